//! Which address a request comes from: the peer, or, behind trusted
//! proxies, the right-most `X-Forwarded-For` entry that is not one of them.
//! Entries left of that one are whatever the client chose to send.

use std::net::{IpAddr, SocketAddr};

use super::{InvalidAllowlist, IpAllowlist};

/// Proxies whose `X-Forwarded-For` we believe. Unlike an allowlist, an
/// empty list trusts no one.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct TrustedProxies(IpAllowlist);

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = InvalidAllowlist;

    fn try_from(cidrs: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(cidrs.iter().map(String::as_str))
    }
}

impl TrustedProxies {
    pub fn parse<'a>(cidrs: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidAllowlist> {
        IpAllowlist::parse(cidrs).map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        !self.0.is_empty() && self.0.allows(ip)
    }
}

/// The address that counts for `peer`, given the values of its
/// `X-Forwarded-For` headers in the order received.
///
/// The header is read only when `peer` is a trusted proxy; then its entries
/// are walked from the right, skipping trusted proxies, and the first other
/// entry is the client. When every entry is a trusted proxy, the left-most
/// one is. `None` when the entry that would be the client is malformed:
/// no address is known, so a client with an allowlist is refused.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer.to_canonical();
    if !trusted.trusts(peer) {
        return Some(peer);
    }
    let entries: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        // RFC 9110 §5.6.1: empty list elements are to be ignored.
        .filter(|entry| !entry.is_empty())
        .collect();
    let mut client = peer;
    for entry in entries.into_iter().rev() {
        client = parse_entry(entry)?;
        if !trusted.trusts(client) {
            break;
        }
    }
    Some(client)
}

/// An address, also as some proxies write it: with a port, IPv6 in brackets.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    fn trusted(cidrs: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(cidrs.iter().copied()).unwrap()
    }

    fn from(peer: &str, xff: &[&str], proxies: &TrustedProxies) -> Option<IpAddr> {
        client_ip(ip(peer), xff.iter().copied(), proxies)
    }

    #[test]
    fn without_trusted_proxies_the_peer_counts() {
        let none = TrustedProxies::default();
        assert_eq!(
            from("192.0.2.1", &["203.0.113.7"], &none),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(
            from("192.0.2.1", &["garbage"], &none),
            Some(ip("192.0.2.1"))
        );
    }

    #[test]
    fn an_untrusted_peer_counts_and_its_header_is_ignored() {
        let proxies = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            from("192.0.2.1", &["203.0.113.7", "garbage"], &proxies),
            Some(ip("192.0.2.1"))
        );
    }

    #[test]
    fn the_right_most_untrusted_entry_counts() {
        let proxies = trusted(&["10.0.0.0/8", "2001:db8::/32"]);
        let cases: &[(&[&str], &str)] = &[
            (&["203.0.113.7"], "203.0.113.7"),
            (&["198.51.100.1, 203.0.113.7"], "203.0.113.7"),
            (&["198.51.100.1, 203.0.113.7, 10.1.1.1"], "203.0.113.7"),
            (&["198.51.100.1", "203.0.113.7, 10.1.1.1"], "203.0.113.7"),
            (&["198.51.100.1, 203.0.113.7", "10.1.1.1"], "203.0.113.7"),
            (&["2001:db9::1, 2001:db8::5"], "2001:db9::1"),
            (&["spoofed, 203.0.113.7,, 10.2.2.2 "], "203.0.113.7"),
            (&["::ffff:203.0.113.7"], "203.0.113.7"),
        ];
        for (xff, expected) in cases {
            assert_eq!(
                from("10.0.0.1", xff, &proxies),
                Some(ip(expected)),
                "{xff:?}"
            );
        }
    }

    #[test]
    fn proxies_write_ports_and_brackets() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let cases = [
            ("203.0.113.7:4711", "203.0.113.7"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
        ];
        for (entry, expected) in cases {
            assert_eq!(from("10.0.0.1", &[entry], &proxies), Some(ip(expected)));
        }
    }

    #[test]
    fn when_all_are_trusted_the_left_most_counts() {
        let proxies = trusted(&["10.0.0.0/8"]);
        assert_eq!(from("10.0.0.1", &[], &proxies), Some(ip("10.0.0.1")));
        assert_eq!(from("10.0.0.1", &[" , "], &proxies), Some(ip("10.0.0.1")));
        assert_eq!(
            from("10.0.0.1", &["10.9.9.9, 10.3.3.3"], &proxies),
            Some(ip("10.9.9.9"))
        );
    }

    #[test]
    fn a_malformed_entry_where_the_client_should_be_is_no_address() {
        let proxies = trusted(&["10.0.0.0/8"]);
        for xff in [
            "garbage",
            "203.0.113.7, unknown",
            "203.0.113.7, garbage, 10.1.1.1",
            "203.0.113.7, 10.0.0.0/8",
            "203.0.113.7, 203.0.113.\u{fffd}",
            "203.0.113.7 198.51.100.1",
        ] {
            assert_eq!(from("10.0.0.1", &[xff], &proxies), None, "{xff}");
        }
        // Left of the client, garbage is the client's own business.
        assert_eq!(
            from("10.0.0.1", &["garbage, 203.0.113.7"], &proxies),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn trusted_range_edges() {
        let proxies = trusted(&["192.0.2.0/24", "2001:db8::/127"]);
        let via = |peer: &str| from(peer, &["203.0.113.7"], &proxies);
        let forwarded = Some(ip("203.0.113.7"));
        assert_eq!(via("192.0.2.0"), forwarded, "first inside");
        assert_eq!(via("192.0.2.255"), forwarded, "last inside");
        assert_eq!(via("192.0.1.255"), Some(ip("192.0.1.255")), "before");
        assert_eq!(via("192.0.3.0"), Some(ip("192.0.3.0")), "first outside");
        assert_eq!(via("2001:db8::"), forwarded);
        assert_eq!(via("2001:db8::1"), forwarded);
        assert_eq!(via("2001:db8::2"), Some(ip("2001:db8::2")));
        assert_eq!(via("::ffff:192.0.2.9"), forwarded, "IPv4-mapped peer");
        // The same edges for a forwarded entry that is a proxy or not.
        let walk = |entry: &str| from("192.0.2.1", &["203.0.113.7", entry], &proxies);
        assert_eq!(walk("192.0.2.255"), forwarded);
        assert_eq!(walk("192.0.3.0"), Some(ip("192.0.3.0")));
    }

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|n| IpAddr::from(n.to_be_bytes())),
            any::<u128>().prop_map(|n| IpAddr::from(n.to_be_bytes())),
        ]
    }

    proptest! {
        #[test]
        fn an_untrusted_peer_always_counts(
            peer in any_ip(),
            xff in proptest::collection::vec(".*", 0..4),
        ) {
            let proxies = trusted(&["10.0.0.0/8"]);
            prop_assume!(!proxies.trusts(peer));
            let got = client_ip(peer, xff.iter().map(String::as_str), &proxies);
            prop_assert_eq!(got, Some(peer.to_canonical()));
        }

        #[test]
        fn arbitrary_headers_never_panic(xff in proptest::collection::vec(".*", 0..4)) {
            let proxies = trusted(&["10.0.0.0/8"]);
            let _ = client_ip(ip("10.0.0.1"), xff.iter().map(String::as_str), &proxies);
        }

        /// Any chain of well-formed addresses: the right-most untrusted one,
        /// else the left-most.
        #[test]
        fn the_walk_finds_the_right_most_untrusted(
            chain in proptest::collection::vec(any_ip(), 1..8),
        ) {
            let proxies = trusted(&["10.0.0.0/8", "fd00::/8"]);
            let header = chain.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
            let expected = chain
                .iter()
                .rev()
                .find(|ip| !proxies.trusts(**ip))
                .unwrap_or(&chain[0])
                .to_canonical();
            prop_assert_eq!(client_ip(ip("10.0.0.1"), [header.as_str()], &proxies), Some(expected));
        }
    }
}
