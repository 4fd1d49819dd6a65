//! The one tracing subscriber factory: a filter, a format and a sink; and
//! the server's sink, which writes off the request threads.

use std::io::IsTerminal;
use std::sync::OnceLock;

use serde::Deserialize;
use tracing::Dispatch;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

mod batched_writer;
mod request_line;

pub use batched_writer::{BatchedWriter, WriterGuard};
use request_line::FastRequestLine;
pub use request_line::REQUEST_TARGET;

/// How log lines look: `pretty` for a person at a terminal, `json` (one
/// object a line) for a log collector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Installs the global subscriber; a second call is a no-op, so tests may
/// call it from every test.
pub fn init<W>(filter: &str, format: LogFormat, sink: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let _ = build(filter, format, sink, true).try_init();
}

/// The subscriber; `fast_request_line` off only to compare the request
/// line with the general formatter's.
fn build<W>(filter: &str, format: LogFormat, sink: W, fast_request_line: bool) -> Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink)
        .with_target(false);
    match format {
        LogFormat::Pretty => builder
            .with_ansi(std::io::stderr().is_terminal())
            .map_event_format(|general| FastRequestLine::new(general, false, fast_request_line))
            .finish()
            .into(),
        // The request's span (its id, method and path) in every line.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .map_event_format(|general| FastRequestLine::new(general, true, fast_request_line))
            .finish()
            .into(),
    }
}

static WRITER: OnceLock<BatchedWriter> = OnceLock::new();

/// `init` with standard error as the sink, written by a thread of its own
/// (see `batched_writer`): a request formats its line and queues it whole.
/// Keep the guard until exit: dropping it writes what is queued.
pub fn init_off_thread(filter: &str, format: LogFormat) -> WriterGuard {
    let (writer, guard) = BatchedWriter::start(std::io::stderr());
    let _ = WRITER.set(writer.clone());
    init(filter, format, writer);
    guard
}

/// Log lines dropped because the writer fell behind.
pub fn dropped_lines() -> u64 {
    WRITER.get().map_or(0, BatchedWriter::dropped_lines)
}
