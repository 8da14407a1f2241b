//! Writes a small seed corpus for `verify_token` into the directory given (created if
//! needed): valid tokens as raw text, and one input per structured mode. The corpus is not
//! committed; run this before the first fuzzing run.

use license_core::{base64url, sign_license};
use license_core_fuzz::{
    MODE_BOTH, MODE_HEADER, MODE_PAYLOAD, MODE_SEGMENT, MODE_SEGMENT_SIGNED, fixture, sample_claims,
};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: seed_corpus <corpus directory>");
        return ExitCode::FAILURE;
    };
    match write_seeds(&dir) {
        Ok(count) => {
            println!("wrote {count} seeds to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot write seeds to {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}

fn write_seeds(dir: &std::path::Path) -> std::io::Result<usize> {
    let fixture = fixture();
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (index, claims) in sample_claims(fixture.now).iter().enumerate() {
        let token = sign_license(claims, &fixture.key).map_err(std::io::Error::other)?;
        let (_, payload_b64) = token.split_once('.').unwrap_or_default();
        let (payload_b64, _) = payload_b64.split_once('.').unwrap_or_default();
        let payload = base64url::decode(payload_b64).map_err(std::io::Error::other)?;
        seeds.push((format!("token-{index}"), token.into_bytes()));
        seeds.push((
            format!("payload-{index}"),
            [&[MODE_PAYLOAD], &payload[..]].concat(),
        ));
    }
    let (header, payload) = fixture.header_and_payload();
    let [header_b64, payload_b64, signature_b64] = fixture.segments();
    seeds.push(("header".into(), [&[MODE_HEADER], &header[..]].concat()));
    seeds.push((
        "both".into(),
        [&[MODE_BOTH], &header[..], &[0xff], &payload[..]].concat(),
    ));
    for (which, segment) in [header_b64, payload_b64, signature_b64]
        .into_iter()
        .enumerate()
    {
        let which = which as u8;
        let seed = [&[MODE_SEGMENT, which], segment.as_bytes()].concat();
        seeds.push((format!("segment-{which}"), seed));
        if which < 2 {
            let seed = [&[MODE_SEGMENT_SIGNED, which], segment.as_bytes()].concat();
            seeds.push((format!("segment-signed-{which}"), seed));
        }
    }
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in &seeds {
        std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
    }
    Ok(seeds.len())
}
