//! Where Keyward may connect on an organisation's behalf (its webhooks):
//! public unicast addresses only. Loopback, private, link-local, CGNAT,
//! multicast, broadcast, documentation and other reserved ranges would let
//! an organisation admin reach the operator's own network, so they are
//! refused, and so are the IPv6 forms that carry such an IPv4 address.
//! The one rule is applied when a URL is set and again, to every resolved
//! address, when a webhook connects (services::outbound_http).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges that are not public unicast (RFC 6890 and later).
const IPV4_NOT_PUBLIC: [(Ipv4Addr, u8); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network", unspecified
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // carrier-grade NAT
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, cloud metadata
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and the broadcast address
];

/// Ranges inside global unicast (2000::/3) that are not public anyway.
const IPV6_NOT_PUBLIC: [(Ipv6Addr, u8); 3] = [
    // IETF protocol assignments, Teredo among them.
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),     // documentation
];

/// Whether a webhook may connect to `ip`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let bits = ip.to_bits();
    !IPV4_NOT_PUBLIC
        .iter()
        .any(|&(net, len)| same_prefix(bits.into(), net.to_bits().into(), 32, len))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_ipv4(ip) {
        return is_public_v4(v4);
    }
    let bits = ip.to_bits();
    // Everything outside global unicast (loopback, unique local, link-local,
    // multicast, local-use NAT64…) is refused by this one test.
    let global_unicast = bits >> 125 == 0b001;
    global_unicast
        && !IPV6_NOT_PUBLIC
            .iter()
            .any(|&(net, len)| same_prefix(bits, net.to_bits(), 128, len))
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, which takes in `::`
/// and `::1`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = ip.to_bits();
    let low = Ipv4Addr::from_bits(bits as u32);
    let prefix96 = bits >> 32;
    if prefix96 == 0xffff || prefix96 == 0 || prefix96 == 0x0064_ff9b_u128 << 64 {
        return Some(low);
    }
    if bits >> 112 == 0x2002 {
        return Some(Ipv4Addr::from_bits((bits >> 80) as u32));
    }
    None
}

/// Whether `a` and `b`, numbers of `width` bits, share their first `len` bits.
fn same_prefix(a: u128, b: u128, width: u32, len: u8) -> bool {
    let shift = width - u32::from(len);
    a >> shift == b >> shift
}

/// `localhost` and the names under it (RFC 6761 §6.3), with or without the
/// final dot: they name this server whatever DNS says.
pub fn is_local_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Why a host is not somewhere a webhook may go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotPublic {
    #[error(
        "{0} is not a public address (loopback, private, link-local and other \
         reserved addresses are refused)"
    )]
    Address(IpAddr),
    #[error("{0} names this server, not a public host")]
    LocalName(String),
}

/// Checks a URL's host as written: a literal address by the address rule,
/// a name only for being `localhost`. What a name resolves to is checked
/// when connecting.
pub fn check_host(host: url::Host<&str>) -> Result<(), NotPublic> {
    match host {
        url::Host::Domain(name) if is_local_name(name) => {
            Err(NotPublic::LocalName(name.to_owned()))
        }
        url::Host::Domain(_) => Ok(()),
        url::Host::Ipv4(v4) => check_ip(v4.into()),
        url::Host::Ipv6(v6) => check_ip(v6.into()),
    }
}

pub fn check_ip(ip: IpAddr) -> Result<(), NotPublic> {
    if is_public(ip) {
        Ok(())
    } else {
        Err(NotPublic::Address(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(raw: &str) -> bool {
        is_public(raw.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges_that_are_not_public_are_refused_at_both_ends() {
        for raw in [
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.0.1",
            "192.168.255.255",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!public(raw), "{raw} must be refused");
        }
    }

    #[test]
    fn public_ipv4_addresses_next_to_the_ranges_pass() {
        for raw in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.255",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(public(raw), "{raw} is public");
        }
    }

    #[test]
    fn ipv6_outside_public_global_unicast_is_refused() {
        for raw in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "100::1",
            "64:ff9b:1::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
        ] {
            assert!(!public(raw), "{raw} must be refused");
        }
        assert!(public("2606:4700:4700::1111"));
        assert!(public("2a00:1450:4001::200e"));
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_follow_the_ipv4_rule() {
        for raw in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.1.2.3",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::192.168.1.1",
            "2002:7f00:1::",
            "2002:a00:1::1",
        ] {
            assert!(!public(raw), "{raw} must be refused");
        }
        for raw in ["::ffff:8.8.8.8", "64:ff9b::1.1.1.1", "2002:808:808::1"] {
            assert!(public(raw), "{raw} carries a public address");
        }
    }

    #[test]
    fn localhost_names_are_local_in_any_case_and_with_a_final_dot() {
        for name in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "api.localhost",
            "a.b.Localhost.",
        ] {
            assert!(is_local_name(name), "{name}");
        }
        for name in [
            "localhost.example.com",
            "notlocalhost",
            "example.com",
            "localhostx",
        ] {
            assert!(!is_local_name(name), "{name}");
        }
    }

    #[test]
    fn a_url_host_is_checked_as_written() {
        fn check(raw: &str) -> Result<(), NotPublic> {
            let url = url::Url::parse(raw).unwrap();
            check_host(url.host().unwrap())
        }
        assert_eq!(check("https://hooks.example.com/x"), Ok(()));
        assert_eq!(check("https://93.184.215.14/"), Ok(()));
        // Decimal and short IPv4 forms are addresses after parsing.
        for raw in [
            "https://127.0.0.1:8443/",
            "https://2130706433/",
            "https://127.1/",
            "https://0x7f.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://169.254.169.254/latest/meta-data/",
        ] {
            assert!(matches!(check(raw), Err(NotPublic::Address(_))), "{raw}");
        }
        assert!(matches!(
            check("https://localhost/"),
            Err(NotPublic::LocalName(_))
        ));
    }
}
