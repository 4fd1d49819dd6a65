//! Group commit of one-time values without leaving the thread. Requests on
//! one worker thread that record values in the same turn of its scheduler
//! share one commit: the first to arrive yields once, so that the others
//! reach the queue, then commits them all on its own thread and hands each
//! its answer. Sent to a task and to sqlx's connection thread, a record cost
//! more in hand-offs than the insert itself.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use thread_local::ThreadLocal;
use tokio::sync::oneshot;

use crate::storage::InstantOneTimeValues;

/// How often a leader looks again whether a checkpoint is over.
const CHECKPOINT_WAIT: Duration = Duration::from_millis(1);

pub struct ThreadGroupCommit {
    commit: Arc<dyn InstantOneTimeValues>,
    queues: ThreadLocal<Mutex<Queue>>,
}

#[derive(Default)]
struct Queue {
    values: Vec<(String, i64)>,
    answers: Vec<oneshot::Sender<Option<bool>>>,
    leader_waiting: bool,
}

impl ThreadGroupCommit {
    pub fn new(commit: Arc<dyn InstantOneTimeValues>) -> Self {
        Self {
            commit,
            queues: ThreadLocal::new(),
        }
    }

    /// `InstantOneTimeValues::use_once` of one value, in the commit of its
    /// thread's turn.
    pub async fn use_once(&self, digest: &str, expires_at: i64) -> Option<bool> {
        let queue = self.queues.get_or_default();
        let (answer, answered) = oneshot::channel();
        let leads = {
            let mut queue = queue.lock();
            queue.values.push((digest.to_owned(), expires_at));
            queue.answers.push(answer);
            !std::mem::replace(&mut queue.leader_waiting, true)
        };
        if leads {
            let leader = Leader {
                queue,
                commit: &*self.commit,
            };
            tokio::task::yield_now().await;
            while self.commit.checkpointing() {
                tokio::time::sleep(CHECKPOINT_WAIT).await;
            }
            drop(leader);
        }
        answered.await.ok().flatten()
    }
}

/// Commits the queue when dropped, so that a leader whose request is
/// dropped while it waits still answers the others.
struct Leader<'a> {
    queue: &'a Mutex<Queue>,
    commit: &'a dyn InstantOneTimeValues,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let (values, answers) = {
            let mut queue = self.queue.lock();
            queue.leader_waiting = false;
            (
                std::mem::take(&mut queue.values),
                std::mem::take(&mut queue.answers),
            )
        };
        let fresh = self.commit.use_once(&values);
        for (i, answer) in answers.into_iter().enumerate() {
            let _ = answer.send(fresh.as_ref().map(|fresh| fresh[i]));
        }
    }
}
