//! openapi.yaml and the server's route table describe the same routes.

use std::collections::BTreeSet;

use keyward::routes::ROUTES;

use crate::support::helpers::{spawn_app, Backend};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn documented_routes() -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    let paths = doc["paths"].as_mapping().expect("paths");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((method.to_owned(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    routes
}

#[test]
fn every_registered_route_is_documented_and_the_reverse() {
    let registered: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let documented = documented_routes();
    assert_eq!(
        registered.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "registered but not in openapi.yaml"
    );
    assert_eq!(
        documented.difference(&registered).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in openapi.yaml but not registered"
    );
}

/// The table is what the server serves: each route answers its method.
#[tokio::test]
async fn every_listed_route_is_served() {
    let app = spawn_app(Backend::Sqlite).await;
    for (method, path) in ROUTES {
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{method} {path} answered {status}"
        );
    }
}
