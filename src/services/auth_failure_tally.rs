//! Failed management-API authentications, audited without letting a flood
//! grow the audit trail: failures are tallied per source address (and
//! named credential, for one that verified but may not be used) and
//! minute, and each tally becomes one `admin.authentication_failed` event
//! with its `count` when its minute ends. At most `MAX_TALLIES` sources are
//! told apart in a minute; the failures of any more share one tally
//! without an address, so a minute adds at most `MAX_TALLIES + 1` rows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

use super::audit_writer::AuditWriter;
use crate::domain::{AuditEvent, AuditTarget, OrgId};
use crate::time::Clock;

pub const MAX_TALLIES: usize = 1_000;
const WINDOW_SECONDS: i64 = 60;

/// Whose failures one tally counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Source {
    ip: Option<IpAddr>,
    /// The organisation and credential (`key:<id>`) of one that verified.
    named: Option<(OrgId, String)>,
}

struct Tally {
    count: u64,
    first_at: i64,
    first_request_id: String,
}

#[derive(Default)]
struct Window {
    minute: i64,
    tallies: HashMap<Source, Tally>,
    /// Events of minutes that ended, waiting to be written.
    ended: Vec<AuditEvent>,
}

#[derive(Default)]
pub struct AuthFailureTally {
    window: Mutex<Window>,
    /// Held while taken events are being appended, so that a stop's
    /// `write_all` returns only once the writer's batch is written too.
    writing: tokio::sync::Mutex<()>,
}

impl AuthFailureTally {
    /// Counts one failed authentication from `ip` at `now`.
    pub fn failed(
        &self,
        ip: Option<IpAddr>,
        named: Option<(OrgId, String)>,
        request_id: &str,
        now: i64,
    ) {
        let mut window = self.window.lock();
        end_minute(&mut window, now);
        let mut source = Source {
            ip: ip.map(|ip| ip.to_canonical()),
            named,
        };
        if window.tallies.len() >= MAX_TALLIES && !window.tallies.contains_key(&source) {
            source = Source {
                ip: None,
                named: None,
            };
        }
        window
            .tallies
            .entry(source)
            .or_insert_with(|| Tally {
                count: 0,
                first_at: now,
                first_request_id: request_id.to_owned(),
            })
            .count += 1;
    }

    /// The events of the minutes that ended before `now`; with `all` (on a
    /// stop), of the current one too.
    fn ended(&self, now: i64, all: bool) -> Vec<AuditEvent> {
        let mut window = self.window.lock();
        end_minute(&mut window, now);
        if all {
            let current = take(&mut window.tallies);
            window.ended.extend(current);
        }
        std::mem::take(&mut window.ended)
    }

    /// Appends every tally to the audit trail: the server is stopping.
    pub async fn write_all(&self, audit: &AuditWriter) {
        let _writing = self.writing.lock().await;
        for event in self.ended(i64::MAX, true) {
            audit.append(event).await;
        }
    }

    /// Appends each minute's tallies to the audit trail once it has ended.
    pub fn spawn_writer(self: &Arc<Self>, audit: Arc<AuditWriter>, clock: Arc<dyn Clock>) {
        let tally = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            loop {
                ticker.tick().await;
                let _writing = tally.writing.lock().await;
                for event in tally.ended(clock.unix(), false) {
                    audit.append(event).await;
                }
            }
        });
    }
}

/// Moves the tallies of a minute before `now`'s to the ended events.
fn end_minute(window: &mut Window, now: i64) {
    let minute = now.div_euclid(WINDOW_SECONDS);
    if window.minute != minute {
        let ended = take(&mut window.tallies);
        window.ended.extend(ended);
        window.minute = minute;
    }
}

fn take(tallies: &mut HashMap<Source, Tally>) -> Vec<AuditEvent> {
    tallies
        .drain()
        .map(|(source, tally)| event(source, tally))
        .collect()
}

fn event(source: Source, tally: Tally) -> AuditEvent {
    let at = chrono::DateTime::from_timestamp(tally.first_at, 0).unwrap_or_default();
    let (org_id, target) = match source.named {
        Some((org, credential)) => (
            Some(org),
            Some(AuditTarget {
                kind: "credential".into(),
                id: credential,
            }),
        ),
        None => (None, None),
    };
    let mut changes = Map::new();
    changes.insert("count".into(), Value::from(tally.count));
    AuditEvent {
        id: AuditEvent::new_id(at),
        org_id,
        actor: "anonymous".into(),
        action: "admin.authentication_failed".into(),
        target,
        occurred_at: tally.first_at,
        source_ip: source.ip.map(|ip| ip.to_string()),
        request_id: tally.first_request_id,
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_of_failures_from_one_address_is_one_event_with_its_count() {
        let tally = AuthFailureTally::default();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for second in 0..59 {
            tally.failed(Some(ip), None, "r", 600 + second);
        }
        assert!(tally.ended(659, false).is_empty(), "the minute is not over");
        tally.failed(Some(ip), None, "r2", 660);
        let ended = tally.ended(660, false);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].changes["count"], 59);
        assert_eq!(ended[0].source_ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(ended[0].occurred_at, 600);
        assert_eq!(ended[0].request_id, "r");
        assert_eq!(tally.ended(720, false).len(), 1, "the next minute's one");
        assert!(tally.ended(780, true).is_empty());
    }

    #[test]
    fn past_the_bound_sources_share_one_tally() {
        let tally = AuthFailureTally::default();
        for n in 0..(MAX_TALLIES as u32 + 500) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            tally.failed(Some(ip), None, "r", 60);
        }
        let events = tally.ended(120, false);
        assert_eq!(events.len(), MAX_TALLIES + 1);
        let shared = events.iter().find(|e| e.source_ip.is_none()).unwrap();
        assert_eq!(shared.changes["count"], 500);
    }
}
