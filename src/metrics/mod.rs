//! What the server counts and how `/metrics` shows it: the counters every
//! layer bumps (`counters`), the request metrics, and the values read at
//! each scrape (`snapshot`). Each `Application` owns its counters and
//! registry, so the many apps a test process starts never share a count,
//! and nothing here is a process-global recorder. Nothing here imports a
//! layer above: what the snapshot reads of services is handed to it.

mod counters;
mod http;
mod snapshot;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use counters::Counters;
pub use http::record_request;
pub use snapshot::{ReadAtScrape, Snapshot};

/// The Prometheus text format (0.0.4) `/metrics` answers in.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Seconds, from half a millisecond (a warm token request) to ten seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route's pattern, such as `/admin/v1/orgs/{org_id}`; `unmatched`
    /// for paths we do not serve, so that scanners cannot grow the series.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    introspections: Family<ResultLabel, Counter>,
    key_verifications: Family<CodeLabel, Counter>,
}

impl Metrics {
    /// Registers every metric; `snapshot` supplies the values read at scrape time.
    pub fn new(snapshot: Snapshot) -> Self {
        let mut registry = Registry::with_prefix("keyward");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route pattern and status",
            requests.clone(),
        );
        let latency: LatencyFamily =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route pattern",
            latency.clone(),
        );
        let introspections = Family::<ResultLabel, Counter>::default();
        registry.register(
            "introspections",
            "Introspection answers by result: active or inactive",
            introspections.clone(),
        );
        let key_verifications = Family::<CodeLabel, Counter>::default();
        registry.register(
            "key_verifications",
            "POST /v1/keys/verify answers by code",
            key_verifications.clone(),
        );
        let build_info = Family::<VersionLabel, Gauge>::default();
        build_info
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "The running version", build_info);
        registry.register_collector(Box::new(snapshot));
        Self {
            registry,
            requests,
            latency,
            introspections,
            key_verifications,
        }
    }

    pub fn introspected(&self, active: bool) {
        let result = if active { "active" } else { "inactive" };
        self.introspections
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    pub fn key_verified(&self, code: &'static str) {
        self.key_verifications
            .get_or_create(&CodeLabel { code })
            .inc();
    }

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
