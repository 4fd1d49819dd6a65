//! A key's requests over time as an SVG bar chart drawn here: served
//! requests, with the rate-limited ones stacked above them in another
//! colour. No script; the numbers are also in each bar's title and in the
//! summary under the chart.

use maud::{html, Markup};

use crate::management::UsageSeries;

/// The window a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last 24 hours, per hour.
    Day,
    /// The last 30 days, per day.
    Month,
}

impl Window {
    pub fn parse(raw: &str) -> Self {
        if raw == "month" {
            Window::Month
        } else {
            Window::Day
        }
    }

    pub fn granularity(self) -> &'static str {
        match self {
            Window::Day => "hour",
            Window::Month => "day",
        }
    }

    fn bucket_seconds(self) -> i64 {
        match self {
            Window::Day => 3600,
            Window::Month => 86_400,
        }
    }

    fn buckets(self) -> i64 {
        match self {
            Window::Day => 24,
            Window::Month => 30,
        }
    }

    /// `[from, to)` in Unix seconds, on bucket boundaries, ending with the
    /// bucket that holds `now`.
    pub fn range(self, now: i64) -> (i64, i64) {
        let size = self.bucket_seconds();
        let to = (now.div_euclid(size) + 1) * size;
        (to - self.buckets() * size, to)
    }
}

const WIDTH: i64 = 720;
const HEIGHT: i64 = 160;
const AXIS: i64 = 20;

pub fn chart(series: &UsageSeries, window: Window, from: i64) -> Markup {
    let size = window.bucket_seconds();
    let mut buckets = vec![(0i64, 0i64); window.buckets() as usize];
    for item in &series.items {
        let Ok(start) = chrono::DateTime::parse_from_rfc3339(&item.start) else {
            continue;
        };
        let index = (start.timestamp() - from).div_euclid(size);
        if let Some(bucket) = usize::try_from(index).ok().and_then(|i| buckets.get_mut(i)) {
            bucket.0 += item.count;
            bucket.1 += item.rate_limited;
        }
    }
    let peak = buckets.iter().map(|(c, l)| c + l).max().unwrap_or(0).max(1);
    let (served, limited): (i64, i64) = buckets
        .iter()
        .fold((0, 0), |(c, l), (bc, bl)| (c + bc, l + bl));
    let slot = WIDTH / window.buckets();
    let plot = HEIGHT - AXIS;
    let bar = |value: i64| value * plot / peak;
    let label = |at: i64| {
        let format = match window {
            Window::Day => "%H:%M",
            Window::Month => "%b %d",
        };
        chrono::DateTime::from_timestamp(at, 0)
            .map(|t| t.format(format).to_string())
            .unwrap_or_default()
    };
    let summary = format!(
        "{served} requests served and {limited} rate-limited in the last {}",
        match window {
            Window::Day => "24 hours",
            Window::Month => "30 days",
        }
    );
    html! {
        figure {
            svg.chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(summary) {
                line x1="0" y1=(plot) x2=(WIDTH) y2=(plot) stroke="#8c959f" stroke-width="1" {}
                @for (i, (count, rate_limited)) in buckets.iter().enumerate() {
                    @let x = i as i64 * slot + 2;
                    @let served_height = bar(*count);
                    @let limited_height = bar(*rate_limited);
                    g {
                        title { (label(from + i as i64 * size)) ": " (count) " served, " (rate_limited) " rate-limited" }
                        rect x=(x) y=(plot - served_height) width=(slot - 4) height=(served_height) fill="#0b5cad" {}
                        rect x=(x) y=(plot - served_height - limited_height) width=(slot - 4) height=(limited_height) fill="#b42318" {}
                    }
                }
                text x="0" y=(HEIGHT - 4) font-size="11" fill="#57606a" { (label(from)) }
                text x=(WIDTH) y=(HEIGHT - 4) font-size="11" fill="#57606a" text-anchor="end" { (label(from + (window.buckets() - 1) * size)) }
                text x="4" y="12" font-size="11" fill="#57606a" { "peak " (peak) }
            }
            figcaption.muted { (summary) " (blue: served, red: rate-limited)." }
        }
    }
}
