//! The keys a command trusts besides the built-in ones, from three places the operator
//! controls: `--trust-key [KID=]FILE` (repeatable), the `CODER_LICENSE_TRUST_KEY` variable
//! (paths separated by ':', as PATH), and every `*.pem` / `*.json` file in the tool's config
//! directory (`$XDG_CONFIG_HOME/coder-license/trusted-keys/`, default
//! `~/.config/coder-license/trusted-keys/`). Never from the license store: whoever can write
//! licenses there must not be able to choose who signs them.
//!
//! A key file is SPKI PEM (one key, under `KID` or its RFC 7638 thumbprint) or JSON: a JWK or
//! a JWKS such as the licensor's `GET /api/v1/keys` (each key under its `kid`).

use anyhow::{Context as _, bail};
use license_core::{Jwk, JwkSet, KeyId, Keyring, PublicKey};
use std::ffi::OsString;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// The variable that lists keys to trust.
pub const TRUST_KEY_ENV: &str = "CODER_LICENSE_TRUST_KEY";
/// Public key files larger than this are not key files.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// One key file to trust, and where it was named (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// `[KID=]FILE` as given (a config directory file is its path).
    pub spec: String,
    /// `--trust-key`, `CODER_LICENSE_TRUST_KEY`, or `the config directory`.
    pub origin: &'static str,
}

/// The config directory of trusted keys: `$XDG_CONFIG_HOME/coder-license/trusted-keys`, or
/// `$HOME/.config/coder-license/trusted-keys` (an XDG_CONFIG_HOME that is not absolute is
/// ignored, as the XDG specification says).
pub fn config_dir(xdg_config_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let base = xdg_config_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("coder-license").join("trusted-keys"))
}

/// Every key file to trust: the flags, then the variable, then the config directory (its
/// `*.pem` and `*.json` files in name order; a missing directory holds none).
pub fn specs(
    flags: &[String],
    env: Option<OsString>,
    config: Option<&Path>,
) -> anyhow::Result<Vec<KeySpec>> {
    let mut specs: Vec<KeySpec> = flags
        .iter()
        .map(|spec| KeySpec {
            spec: spec.clone(),
            origin: "--trust-key",
        })
        .collect();
    if let Some(list) = env {
        for path in std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()) {
            specs.push(KeySpec {
                spec: path.display().to_string(),
                origin: TRUST_KEY_ENV,
            });
        }
    }
    if let Some(dir) = config {
        let listing = match std::fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(specs),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", dir.display()));
            }
        };
        let dir_mode = std::fs::metadata(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .permissions()
            .mode();
        if dir_mode & 0o002 != 0 {
            bail!(
                "{} is writable by every user, so anyone could add a key to trust: chmod o-w it",
                dir.display()
            );
        }
        let mut files = Vec::new();
        for entry in listing {
            let path = entry
                .with_context(|| format!("cannot read {}", dir.display()))?
                .path();
            if path.extension().is_some_and(|e| e == "pem" || e == "json") {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let mode = std::fs::metadata(&path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .permissions()
                .mode();
            if mode & 0o002 != 0 {
                bail!(
                    "{} is writable by every user, so anyone could choose whose licenses are trusted: chmod o-w it",
                    path.display()
                );
            }
            specs.push(KeySpec {
                spec: path.display().to_string(),
                origin: "the config directory",
            });
        }
    }
    Ok(specs)
}

/// The built-in keyring plus every key to trust (flags, variable, config directory).
pub fn keyring(flags: &[String]) -> anyhow::Result<Keyring> {
    let config = config_dir(
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    );
    let specs = specs(flags, std::env::var_os(TRUST_KEY_ENV), config.as_deref())?;
    keyring_of(&specs)
}

/// The built-in keyring plus the keys of `specs`.
pub fn keyring_of(specs: &[KeySpec]) -> anyhow::Result<Keyring> {
    let mut keyring = Keyring::builtin();
    for KeySpec { spec, origin } in specs {
        let (alias, path) = split_trust_key(spec)
            .with_context(|| format!("cannot trust {spec} (from {origin})"))?;
        let keys = read_public_keys(&path)
            .with_context(|| format!("cannot trust {spec} (from {origin})"))?;
        if alias.is_some() && keys.len() != 1 {
            bail!(
                "cannot trust {spec} (from {origin}): KID= names one key, but {} holds {}",
                path.display(),
                keys.len()
            );
        }
        for (kid, key) in keys {
            let kid = alias.clone().or(kid).unwrap_or_else(|| key.thumbprint());
            keyring
                .add(kid, key)
                .with_context(|| format!("cannot trust {spec} (from {origin})"))?;
        }
    }
    Ok(keyring)
}

/// `KID=PATH` or `PATH`: a path that exists as given wins, so file names with `=` still work.
fn split_trust_key(spec: &str) -> anyhow::Result<(Option<KeyId>, PathBuf)> {
    if Path::new(spec).exists() {
        return Ok((None, PathBuf::from(spec)));
    }
    match spec.split_once('=') {
        Some((kid, path)) if !path.is_empty() => {
            let kid = KeyId::new(kid).with_context(|| format!("{kid:?} is not a key id"))?;
            Ok((Some(kid), PathBuf::from(path)))
        }
        _ => Ok((None, PathBuf::from(spec))),
    }
}

/// The keys of a PEM file (one key, no id) or of a JWK / JWKS JSON file (each with its id).
pub fn read_public_keys(path: &Path) -> anyhow::Result<Vec<(Option<KeyId>, PublicKey)>> {
    let text = read_text(path, MAX_KEY_FILE_BYTES, "public key")?;
    parse_public_keys(&text).with_context(|| format!("cannot use {}", path.display()))
}

/// The keys of a key file's text: SPKI PEM, or a JWK or JWKS document.
pub fn parse_public_keys(text: &str) -> anyhow::Result<Vec<(Option<KeyId>, PublicKey)>> {
    if !text.trim_start().starts_with('{') {
        let key = PublicKey::from_spki_pem(text)
            .context("it is neither an Ed25519 public key in SPKI PEM form nor a JWK or JWKS")?;
        return Ok(vec![(None, key)]);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).context("it is neither a PEM public key nor JSON")?;
    let jwks: Vec<Jwk> = if value.get("keys").is_some() {
        serde_json::from_value::<JwkSet>(value).map(|set| set.keys)
    } else {
        serde_json::from_value::<Jwk>(value).map(|jwk| vec![jwk])
    }
    .context("it is not a JWK or JWKS document")?;
    if jwks.is_empty() {
        bail!("it holds no keys");
    }
    jwks.into_iter()
        .map(|jwk| {
            let key = jwk
                .public_key()
                .with_context(|| format!("key {}", jwk.kid))?;
            Ok((Some(jwk.kid), key))
        })
        .collect()
}

/// At most `limit` bytes of a file, as text (invalid UTF-8 becomes replacement characters,
/// which no token or key contains: the parser then names the problem).
pub fn read_text(path: &Path, limit: u64, what: &str) -> anyhow::Result<String> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open {what} {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!(
            "{what} {} is larger than {limit} bytes; it is not a {what}",
            path.display()
        );
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use license_core::SigningKey;

    fn pem(seed: u8) -> String {
        SigningKey::from_seed(&[seed; 32])
            .public_key()
            .to_spki_pem()
            .unwrap()
    }

    #[test]
    fn the_config_directory_follows_xdg() {
        assert_eq!(
            config_dir(Some("/x".into()), Some("/home/a".into())),
            Some(PathBuf::from("/x/coder-license/trusted-keys"))
        );
        assert_eq!(
            config_dir(Some("relative".into()), Some("/home/a".into())),
            Some(PathBuf::from("/home/a/.config/coder-license/trusted-keys"))
        );
        assert_eq!(config_dir(None, None), None);
    }

    #[test]
    fn keys_come_from_flags_the_variable_and_the_config_directory() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pem");
        let b = dir.path().join("b.pem");
        std::fs::write(&a, pem(1)).unwrap();
        std::fs::write(&b, pem(2)).unwrap();
        let config = dir.path().join("trusted-keys");
        std::fs::create_dir(&config).unwrap();
        let key = SigningKey::from_seed(&[3; 32]).with_key_id(KeyId::new("k3").unwrap());
        let jwks = JwkSet {
            keys: vec![key.public_key().to_jwk(key.key_id())],
        };
        std::fs::write(
            config.join("licensor.json"),
            serde_json::to_string(&jwks).unwrap(),
        )
        .unwrap();
        std::fs::write(config.join("notes.txt"), "not a key").unwrap();
        let env = std::env::join_paths([&b, &PathBuf::new()]).unwrap();
        let found = specs(
            &[a.display().to_string()],
            Some(env),
            Some(config.as_path()),
        )
        .unwrap();
        let origins: Vec<&str> = found.iter().map(|s| s.origin).collect();
        assert_eq!(
            origins,
            ["--trust-key", TRUST_KEY_ENV, "the config directory"]
        );
        let keyring = keyring_of(&found).unwrap();
        assert_eq!(keyring.len(), Keyring::builtin().len() + 3);
        assert!(keyring.get(&KeyId::new("k3").unwrap()).is_some());
        // A missing config directory holds no keys; a broken key names where it came from.
        assert!(
            specs(&[], None, Some(&dir.path().join("none")))
                .unwrap()
                .is_empty()
        );
        std::fs::write(config.join("broken.pem"), "nope").unwrap();
        let found = specs(&[], None, Some(config.as_path())).unwrap();
        let err = keyring_of(&found).unwrap_err();
        assert!(
            format!("{err:#}").contains("broken.pem (from the config directory)"),
            "{err:#}"
        );
    }

    #[test]
    fn a_world_writable_config_key_or_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.pem");
        std::fs::write(&key, pem(1)).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = specs(&[], None, Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("k.pem is writable"), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(specs(&[], None, Some(dir.path())).unwrap().len(), 1);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = specs(&[], None, Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("add a key"), "{err}");
    }
}
