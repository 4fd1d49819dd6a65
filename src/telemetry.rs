//! The one tracing subscriber factory: a filter, a format and a sink; and
//! the server's sink, which writes off the request threads.

use std::io::{BufWriter, IsTerminal};
use std::sync::OnceLock;

use serde::Deserialize;
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

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
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink)
        .with_target(false);
    let _ = match format {
        LogFormat::Pretty => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        // The request's span (its id, method and path) in every line.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Lines waiting for the writer thread; past this, new lines are dropped
/// (and counted) rather than stall a request. About 5 MiB of typical lines.
const BUFFERED_LINES: usize = 16_384;

static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// `init` with standard error as the sink, written by a thread of its own:
/// a request formats its line and queues it, and the writer thread batches
/// the queued lines into few writes. Each line is queued whole. Keep the
/// guard until exit: dropping it writes what is queued.
pub fn init_off_thread(filter: &str, format: LogFormat) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(BUFFERED_LINES)
        .thread_name("keyward-log")
        .finish(BufWriter::new(std::io::stderr()));
    let _ = DROPPED.set(writer.error_counter());
    init(filter, format, writer);
    guard
}

/// Log lines dropped because the writer fell behind.
pub fn dropped_lines() -> u64 {
    DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}
