//! The server's log sink: lines are appended whole to a bounded buffer
//! under a short lock, and a thread of its own writes the buffer out every
//! few milliseconds. Nothing wakes that thread per line: on a small machine
//! (above all a virtual one) waking a sleeping thread for every request's
//! line cost more than formatting it, about 5 µs of CPU a request. A full
//! buffer wakes the writer early; past its bound, lines are dropped whole
//! and counted.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tracing_subscriber::fmt::MakeWriter;

/// How often queued lines are written out.
const WRITE_EVERY: Duration = Duration::from_millis(20);
/// Queued bytes that wake the writer before its time.
const WAKE_AT: usize = 256 * 1024;
/// Queued bytes past which new lines are dropped: about 16k typical lines.
const MAX_QUEUED: usize = 4 * 1024 * 1024;

#[derive(Default)]
struct Queue {
    lines: Vec<u8>,
    stopping: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    due: Condvar,
    dropped: AtomicU64,
}

/// The `MakeWriter` the subscriber formats lines into; cheap to clone.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Writes what is queued, then stops the writer thread, when dropped.
pub struct WriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BatchedWriter {
    /// Starts the writer thread on `sink`.
    pub fn start<W: Write + Send + 'static>(sink: W) -> (Self, WriterGuard) {
        let shared = Arc::new(Shared::default());
        let writer = shared.clone();
        let thread = std::thread::Builder::new()
            .name("keyward-log".into())
            .spawn(move || write_out(&writer, sink))
            .expect("the log writer thread starts");
        let guard = WriterGuard {
            shared: shared.clone(),
            thread: Some(thread),
        };
        (Self { shared }, guard)
    }

    /// Lines dropped because the queue was full.
    pub fn dropped_lines(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

fn write_out<W: Write>(shared: &Shared, mut sink: W) {
    let mut batch = Vec::new();
    loop {
        let stopping = {
            let mut queue = shared.queue.lock();
            if !queue.stopping && queue.lines.len() < WAKE_AT {
                shared.due.wait_for(&mut queue, WRITE_EVERY);
            }
            std::mem::swap(&mut queue.lines, &mut batch);
            queue.stopping
        };
        if !batch.is_empty() {
            // Nowhere to report a failed write of the log itself.
            let _ = sink.write_all(&batch).and_then(|()| sink.flush());
            batch.clear();
        }
        if stopping {
            return;
        }
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.shared.queue.lock().stopping = true;
        self.shared.due.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Write for &BatchedWriter {
    /// Queues one formatted line (the subscriber writes each whole).
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut queue = self.shared.queue.lock();
        if queue.lines.len() + line.len() > MAX_QUEUED {
            drop(queue);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(line.len());
        }
        queue.lines.extend_from_slice(line);
        let wake = queue.lines.len() >= WAKE_AT;
        drop(queue);
        if wake {
            self.shared.due.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = &'a BatchedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read after the writer has stopped.
    #[derive(Clone, Default)]
    struct Collected(Arc<Mutex<Vec<u8>>>);

    impl Write for Collected {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_and_a_stop_writes_the_rest() {
        let sink = Collected::default();
        let (writer, guard) = BatchedWriter::start(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        let line = format!("{{\"thread\":{t},\"line\":{i}}}\n");
                        (&writer).write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8000);
        assert!(lines
            .iter()
            .all(|l| l.starts_with("{\"thread\":") && l.ends_with('}')));
        assert_eq!(writer.dropped_lines(), 0);
    }

    #[test]
    fn past_its_bound_the_queue_drops_lines_whole_and_counts_them() {
        /// A sink that never finishes a write while the test fills the queue.
        struct Stuck(Arc<Mutex<()>>);
        impl Write for Stuck {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                drop(self.0.lock());
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock();
        let (writer, guard) = BatchedWriter::start(Stuck(gate.clone()));
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        // The first batch may be taken (and stuck) before the queue fills.
        for _ in 0..(2 * MAX_QUEUED / line.len() + 1) {
            (&writer).write_all(&line).unwrap();
        }
        assert!(writer.dropped_lines() > 0);
        assert!(writer.shared.queue.lock().lines.len() <= MAX_QUEUED);
        drop(held);
        drop(guard);
    }
}
