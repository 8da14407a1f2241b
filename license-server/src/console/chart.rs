//! A deployment's active users against its seats over time, as SVG drawn by `plotters`
//! (its SVG backend): a line with a marker at every check-in, the seats as a second line.

use crate::store::deployments::CheckinEntry;
use license_core::Timestamp;
use plotters::prelude::*;

/// The chart's size in pixels.
const SIZE: (u32, u32) = (760, 320);

/// Why the chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("drawing the chart failed: {0}")]
pub struct ChartError(String);

fn fail(e: impl std::fmt::Display) -> ChartError {
    ChartError(e.to_string())
}

fn label(seconds: &i64) -> String {
    Timestamp::from_unix(*seconds)
        .map(|t| t.rfc3339().get(5..16).unwrap_or_default().replace('T', " "))
        .unwrap_or_default()
}

/// The SVG of `checkins` (any order) with `seats` drawn as a line, if known.
pub fn users_over_time(
    checkins: &[CheckinEntry],
    seats: Option<i64>,
) -> Result<String, ChartError> {
    let mut points: Vec<(i64, i64)> = checkins
        .iter()
        .map(|c| {
            (
                c.at.unix(),
                i64::try_from(c.active_users).unwrap_or(i64::MAX),
            )
        })
        .collect();
    points.sort_unstable();
    let (first, last) = match (points.first(), points.last()) {
        (Some(first), Some(last)) if first.0 < last.0 => (first.0, last.0),
        (Some(only), _) => (only.0 - 3600, only.0 + 3600),
        _ => return Ok(String::new()),
    };
    let top = points
        .iter()
        .map(|p| p.1)
        .chain(seats)
        .max()
        .unwrap_or(1)
        .max(1);
    let top = top + top / 5 + 1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(first..last, 0i64..top)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&label)
            .x_desc("check-in (UTC)")
            .y_desc("active users")
            .draw()
            .map_err(fail)?;
        let users = RGBColor(11, 92, 173);
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                users.stroke_width(2),
            ))
            .map_err(fail)?
            .label("active users");
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, users.filled())))
            .map_err(fail)?;
        if let Some(seats) = seats {
            let red = RGBColor(164, 22, 26);
            chart
                .draw_series(LineSeries::new(
                    [(first, seats), (last, seats)],
                    red.stroke_width(2),
                ))
                .map_err(fail)?
                .label("seats");
        }
        root.present().map_err(fail)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkin(at: i64, users: u64) -> CheckinEntry {
        CheckinEntry {
            id: at,
            at: Timestamp::from_unix(at).unwrap(),
            active_users: users,
            product_version: "2.10.0".to_owned(),
            license_ids: Vec::new(),
            client_address: None,
        }
    }

    #[test]
    fn every_checkin_is_a_marker() {
        let svg = users_over_time(
            &[
                checkin(1_800_000_000, 3),
                checkin(1_800_086_400, 9),
                checkin(1_800_003_600, 5),
            ],
            Some(5),
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
        assert!(svg.contains("active users"));
        assert_eq!(users_over_time(&[], None).unwrap(), "");
    }
}
