//! The line every request logs, formatted by a short path of its own: the
//! general formatters build it through layers of `fmt` machinery, which
//! at the default level cost a tenth of the server's throughput. The line
//! is byte for byte what the general formatter writes (tests below); any
//! other event, or this one inside a span or with colours on, goes to the
//! general formatter.

use std::cell::RefCell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The target of the request line's event (`routes::request_log`).
pub const REQUEST_TARGET: &str = "keyward::request";

pub struct FastRequestLine<F> {
    general: F,
    json: bool,
    enabled: bool,
}

impl<F> FastRequestLine<F> {
    pub fn new(general: F, json: bool, enabled: bool) -> Self {
        Self {
            general,
            json,
            enabled,
        }
    }
}

impl<S, N, F> FormatEvent<S, N> for FastRequestLine<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let plain = self.json || !writer.has_ansi_escapes();
        let in_span = event.parent().is_some() || ctx.lookup_current().is_some();
        let ours = self.enabled && event.metadata().target() == REQUEST_TARGET;
        if !ours || !plain || in_span {
            return self.general.format_event(ctx, writer, event);
        }
        let level = event.metadata().level().as_str();
        if self.json {
            writer.write_str("{\"timestamp\":\"")?;
            write_timestamp(&mut writer)?;
            write!(writer, "\",\"level\":\"{level}\"")?;
            let mut fields = JsonFields {
                writer: &mut writer,
                result: Ok(()),
            };
            event.record(&mut fields);
            fields.result?;
            writer.write_str("}\n")
        } else {
            write_timestamp(&mut writer)?;
            write!(writer, " {level:>5} ")?;
            let mut fields = TextFields {
                writer: &mut writer,
                first: true,
                result: Ok(()),
            };
            event.record(&mut fields);
            fields.result?;
            writer.write_char('\n')
        }
    }
}

/// `2026-11-30T19:22:45.133161Z`, as tracing-subscriber's clock writes it;
/// the date and time of day are formatted once a second per thread.
fn write_timestamp(writer: &mut Writer<'_>) -> fmt::Result {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    SECOND.with(|second| {
        let mut second = second.borrow_mut();
        if second.0 != now.as_secs() {
            let at = chrono::DateTime::from_timestamp(now.as_secs() as i64, 0).unwrap_or_default();
            *second = (now.as_secs(), at.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
        write!(writer, "{}.{:06}Z", second.1, now.subsec_micros())
    })
}

/// Fields as tracing-subscriber's default text format writes them: the
/// message as is, then `name=value` with the value's `Debug`.
struct TextFields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Visit for TextFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"))
        } else {
            self.record_debug(field, &value)
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let gap = if self.first { "" } else { " " };
        self.first = false;
        self.result = match field.name() {
            "message" => write!(self.writer, "{gap}{value:?}"),
            name => write!(self.writer, "{gap}{name}={value:?}"),
        };
    }
}

/// Fields as tracing-subscriber's flattened JSON writes them: strings and
/// numbers as such, anything else as the string of its `Debug`.
struct JsonFields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl JsonFields<'_, '_> {
    fn entry(&mut self, field: &Field, value: impl serde::Serialize) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            self.writer.write_char(',')?;
            write_json(self.writer, field.name())?;
            self.writer.write_char(':')?;
            write_json(self.writer, value)
        })();
    }
}

impl Visit for JsonFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, format_args!("{value:?}").to_string());
    }
}

fn write_json(writer: &mut Writer<'_>, value: impl serde::Serialize) -> fmt::Result {
    let text = serde_json::to_string(&value).map_err(|_| fmt::Error)?;
    writer.write_str(&text)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;
    use crate::telemetry::{build, LogFormat};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;

        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// The line `emit` logs, with `fast` on or off, its timestamp cut.
    fn line(format: LogFormat, fast: bool, emit: impl Fn()) -> String {
        let captured = Captured::default();
        let dispatch = build("info", format, captured.clone(), fast);
        tracing::dispatcher::with_default(&dispatch, emit);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let stamp = regex_free_stamp_end(&text);
        text[stamp..].to_owned()
    }

    /// Where the timestamp ends: after the first `Z`.
    fn regex_free_stamp_end(text: &str) -> usize {
        text.find('Z').map_or(0, |i| i + 1)
    }

    fn request_lines() -> Vec<Box<dyn Fn()>> {
        vec![
            Box::new(|| {
                let method = actix_web::http::Method::POST;
                let path = "/oauth/introspect".to_owned();
                tracing::info!(target: REQUEST_TARGET, request_id = Some("3f1c2a9e-7d4b"), %method, path, status = 200u16, "request finished");
            }),
            Box::new(|| {
                let method = actix_web::http::Method::GET;
                let path = "/a\"b\\c\u{7f}é".to_owned();
                let none: Option<&str> = None;
                tracing::info!(target: REQUEST_TARGET, request_id = none, %method, path, status = 404u16, "request finished");
            }),
        ]
    }

    #[test]
    fn the_fast_line_is_the_general_formatters_line() {
        for format in [LogFormat::Pretty, LogFormat::Json] {
            for emit in request_lines() {
                let general = line(format, false, &emit);
                let fast = line(format, true, &emit);
                assert!(general.contains("request finished"), "{general}");
                assert_eq!(fast, general, "{format:?}");
            }
        }
    }

    #[test]
    fn the_timestamp_has_the_general_formatters_shape() {
        let captured = Captured::default();
        let dispatch = build("info", LogFormat::Pretty, captured.clone(), true);
        tracing::dispatcher::with_default(
            &dispatch,
            || tracing::info!(target: REQUEST_TARGET, status = 200u16, "request finished"),
        );
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let stamp = &text[..regex_free_stamp_end(&text)];
        let parsed = chrono::DateTime::parse_from_rfc3339(stamp).unwrap();
        assert_eq!(stamp.len(), "2026-11-30T19:22:45.133161Z".len());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!(
            (parsed.timestamp() - now.as_secs() as i64).abs() < 5,
            "{stamp}"
        );
    }
}
