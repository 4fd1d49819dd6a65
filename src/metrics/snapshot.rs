//! Values read when `/metrics` is scraped: the application's counters and
//! the gauges handed in (the database pool, the rate limiter's mode, the
//! usage and audit queues).

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::Counters;

pub struct Snapshot {
    pub counters: Arc<Counters>,
    /// Gauges of the parts that `startup` assembles (the database pool,
    /// the rate limiter, the write-behind queues), read at each scrape.
    pub gauges: Vec<ReadAtScrape>,
}

/// A gauge read when `/metrics` is scraped.
pub struct ReadAtScrape {
    name: &'static str,
    help: &'static str,
    read: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl ReadAtScrape {
    pub fn new(
        name: &'static str,
        help: &'static str,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            help,
            read: Box::new(read),
        }
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot").finish_non_exhaustive()
    }
}

type Fmt = Result<(), fmt::Error>;

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: &AtomicU64) -> Fmt {
    let metric = ConstCounter::new(Counters::read(value));
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// One counter with a label whose values split it.
fn labelled_counter(
    encoder: &mut DescriptorEncoder,
    (name, help, label): (&str, &str, &str),
    values: &[(&str, &AtomicU64)],
) -> Fmt {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value, count) in values {
        let labels = [(label, *value)];
        ConstCounter::new(Counters::read(count)).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> Fmt {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Fmt {
        let c = &self.counters;
        let e = &mut encoder;
        counter(e, "tokens_issued", "Access tokens issued", &c.tokens_issued)?;
        counter(
            e,
            "argon2_verifications",
            "argon2 hash verifications run",
            &c.argon2_verifications,
        )?;
        counter(
            e,
            "secret_digests_computed",
            "Keyed digests of presented secrets computed to check them",
            &c.secret_digests_computed,
        )?;
        let dropped = ConstCounter::new(crate::telemetry::dropped_lines());
        dropped.encode(e.encode_descriptor(
            "log_lines_dropped",
            "Log lines dropped because the log writer fell behind",
            None,
            dropped.metric_type(),
        )?)?;
        counter(
            e,
            "secret_hashes_rewritten",
            "Stored secret hashes rewritten as digests under the current server secret",
            &c.secret_hashes_rewritten,
        )?;
        labelled_counter(
            e,
            (
                "credential_cache_lookups",
                "Lookups of argon2-checked secrets remembered in memory, by result",
                "result",
            ),
            &[
                ("hit", &c.credential_cache_hits),
                ("miss", &c.credential_cache_misses),
            ],
        )?;
        counter(
            e,
            "signature_verifications",
            "Access-token signatures checked",
            &c.signature_verifications,
        )?;
        labelled_counter(
            e,
            (
                "sql_queries",
                "SQL statements run, for requests or in the background",
                "origin",
            ),
            &[
                ("request", &c.sql_queries),
                ("background", &c.background_sql_queries),
            ],
        )?;
        labelled_counter(
            e,
            (
                "cache_evictions",
                "Cached records dropped after a change, by cache",
                "cache",
            ),
            &[
                ("client", &c.client_cache_evictions),
                ("api_key", &c.key_cache_evictions),
            ],
        )?;
        counter(
            e,
            "change_notifications",
            "Changes received from the change feed",
            &c.change_notifications,
        )?;
        counter(
            e,
            "rate_limit_checks",
            "Rate-limit decisions made",
            &c.rate_limit_checks,
        )?;
        counter(
            e,
            "rate_limited",
            "Rate-limit decisions that refused the request",
            &c.rate_limited,
        )?;
        counter(
            e,
            "usage_flush_failures",
            "Usage batches that could not be written (kept for the next flush)",
            &c.usage_flush_failures,
        )?;
        counter(
            e,
            "usage_dropped",
            "Usage dropped because the tally was full while the database was unavailable",
            &c.usage_dropped,
        )?;
        counter(
            e,
            "request_log_dropped",
            "Request log entries dropped because the queue was full",
            &c.request_log_dropped,
        )?;
        counter(
            e,
            "audit_events_dropped",
            "Audit events dropped because the queue was full while the database was unavailable",
            &c.audit_events_dropped,
        )?;
        counter(
            e,
            "stale_answers",
            "Credential records served past their freshness while the database was unavailable",
            &c.stale_answers,
        )?;

        for gauge_of in &self.gauges {
            gauge(e, gauge_of.name, gauge_of.help, (gauge_of.read)())?;
        }
        Ok(())
    }
}
