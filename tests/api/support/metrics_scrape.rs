//! `/metrics` read back by parsing the Prometheus text format.

use std::collections::BTreeMap;

use super::helpers::TestApp;

/// One sample: its name and labels.
type Series = (String, BTreeMap<String, String>);

/// The samples of a Prometheus text exposition, checking its shape as it goes.
fn parse(text: &str) -> BTreeMap<Series, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect(line))),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        samples.insert((name.to_owned(), labels), value);
    }
    samples
}

/// `a="x",b="y"`; our label values hold no quotes or commas.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').expect(pair);
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
            (key.to_owned(), value.expect(pair).to_owned())
        })
        .collect()
}

pub struct Scrape(BTreeMap<Series, f64>);

impl Scrape {
    pub async fn of(app: &TestApp) -> Self {
        let response = app.http.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        Self(parse(&response.text().await.unwrap()))
    }

    /// The sample's value; 0 when the series does not exist yet.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.0
            .get(&(name.to_owned(), labels))
            .copied()
            .unwrap_or(0.0)
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.keys().any(|(n, _)| n == name)
    }

    pub fn all_label_values(&self) -> Vec<&str> {
        self.0
            .keys()
            .flat_map(|(_, labels)| labels.values().map(String::as_str))
            .collect()
    }
}
