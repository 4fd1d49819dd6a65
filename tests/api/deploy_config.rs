//! The shipped proxy configuration keeps `/metrics` off the public side
//! (README "Metrics"): nginx answers 403 there and never proxies it.

const NGINX_CONF: &str = include_str!("../../deploy/nginx.conf");

/// The body of the `location` block whose header is exactly `header`.
fn location_block<'a>(conf: &'a str, header: &str) -> Option<&'a str> {
    let start = conf.find(&format!("location {header} {{"))?;
    let body = &conf[start..];
    let end = body.find('}')?;
    Some(&body[..end])
}

/// The config without comments, one space between words.
fn normalised(conf: &str) -> String {
    conf.lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_proxy_denies_metrics_and_everything_under_it() {
    let conf = normalised(NGINX_CONF);
    for header in ["= /metrics", "^~ /metrics/"] {
        let block = location_block(&conf, header)
            .unwrap_or_else(|| panic!("deploy/nginx.conf has no `location {header}` block"));
        assert!(block.contains("deny all;"), "location {header}: {block}");
        assert!(!block.contains("proxy_pass"), "location {header}: {block}");
        assert!(!block.contains("allow "), "location {header}: {block}");
    }
    // No other block may name /metrics: a regex location would win over
    // the `^~` prefix and could proxy it again.
    let headers: Vec<&str> = conf
        .split("location ")
        .skip(1)
        .map(|block| block.split('{').next().unwrap_or_default().trim())
        .collect();
    let naming_metrics: Vec<_> = headers.iter().filter(|h| h.contains("metrics")).collect();
    assert_eq!(
        naming_metrics,
        [&"= /metrics", &"^~ /metrics/"],
        "{headers:?}"
    );
    assert!(!headers.iter().any(|h| h.starts_with('~')), "{headers:?}");
}
