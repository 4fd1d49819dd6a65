//! IP allowlists of clients and keys: IPv4 and IPv6 CIDRs. An empty list
//! allows every address.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

pub const MAX_ALLOWLIST_ENTRIES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAllowlist {
    #[error("'{0}' is not an IPv4 or IPv6 CIDR such as 203.0.113.0/24 or 2001:db8::/32")]
    NotCidr(String),
    #[error("at most {MAX_ALLOWLIST_ENTRIES} entries may be given")]
    TooMany,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpAllowlist(Vec<IpNet>);

impl IpAllowlist {
    /// Parses CIDRs; a bare address means that one host. Host bits below
    /// the prefix are cleared, so `10.1.2.3/8` reads as `10.0.0.0/8`.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidAllowlist> {
        let mut nets = Vec::new();
        for entry in entries {
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| InvalidAllowlist::NotCidr(entry.to_owned()))?;
            let net = as_ipv4_if_mapped(net).trunc();
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        if nets.len() > MAX_ALLOWLIST_ENTRIES {
            return Err(InvalidAllowlist::TooMany);
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` may use the credential; an IPv4-mapped IPv6 address
    /// counts as the IPv4 address it carries.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.is_empty() || self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn entries(&self) -> impl Iterator<Item = String> + '_ {
        self.0.iter().map(IpNet::to_string)
    }
}

/// `::ffff:a.b.c.d/n` (n >= 96) as the IPv4 network it maps: client
/// addresses are compared as IPv4, so the mapped form could never match.
fn as_ipv4_if_mapped(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        _ => net,
    }
}

/// Space-separated CIDRs, as stored.
impl fmt::Display for IpAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = self.entries().collect();
        f.write_str(&entries.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_entry_is_a_network_or_refused(raw in "[0-9a-f.:/]{0,24}|\\PC{0,24}") {
            match IpAllowlist::parse([raw.as_str()]) {
                Ok(list) => {
                    let shown = list.to_string();
                    prop_assert_eq!(IpAllowlist::parse(shown.split(' ')).unwrap(), list);
                }
                Err(e) => prop_assert_eq!(e, InvalidAllowlist::NotCidr(raw)),
            }
        }

        #[test]
        fn an_ipv4_network_holds_its_addresses(addr in any::<u32>(), prefix in 0u8..=32) {
            let addr = Ipv4Addr::from(addr);
            let list = IpAllowlist::parse([format!("{addr}/{prefix}").as_str()]).unwrap();
            prop_assert!(list.allows(IpAddr::V4(addr)));
            prop_assert!(list.allows(IpAddr::V6(addr.to_ipv6_mapped())));
            let shown = list.to_string();
            prop_assert_eq!(IpAllowlist::parse([shown.as_str()]).unwrap(), list);
        }

        #[test]
        fn an_ipv6_network_holds_its_addresses(addr in any::<u128>(), prefix in 0u8..=128) {
            let addr = Ipv6Addr::from(addr);
            prop_assume!(addr.to_ipv4_mapped().is_none());
            let list = IpAllowlist::parse([format!("{addr}/{prefix}").as_str()]).unwrap();
            prop_assert!(list.allows(IpAddr::V6(addr)));
            let shown = list.to_string();
            prop_assert_eq!(IpAllowlist::parse([shown.as_str()]).unwrap(), list);
        }

        #[test]
        fn prefixes_past_the_width_are_refused(addr in any::<u32>(), prefix in 33u16..1000) {
            let entry = format!("{}/{prefix}", Ipv4Addr::from(addr));
            prop_assert_eq!(
                IpAllowlist::parse([entry.as_str()]),
                Err(InvalidAllowlist::NotCidr(entry))
            );
        }
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn ipv4_edges() {
        let list = IpAllowlist::parse(["203.0.113.0/24"]).unwrap();
        assert!(list.allows(ip("203.0.113.0")));
        assert!(list.allows(ip("203.0.113.255")));
        assert!(!list.allows(ip("203.0.112.255")));
        assert!(!list.allows(ip("203.0.114.0")));
        assert!(list.allows(ip("::ffff:203.0.113.7")));
    }

    #[test]
    fn ipv6_edges_and_hosts() {
        let list = IpAllowlist::parse(["2001:db8::/127", "198.51.100.9"]).unwrap();
        assert!(list.allows(ip("2001:db8::1")));
        assert!(!list.allows(ip("2001:db8::2")));
        assert!(list.allows(ip("198.51.100.9")));
        assert!(!list.allows(ip("198.51.100.10")));
        assert_eq!(list.to_string(), "2001:db8::/127 198.51.100.9/32");
    }

    #[test]
    fn ipv4_mapped_entries_read_as_ipv4() {
        let list = IpAllowlist::parse(["::ffff:203.0.113.0/120"]).unwrap();
        assert_eq!(list.to_string(), "203.0.113.0/24");
        assert!(list.allows(ip("203.0.113.77")));
        assert!(list.allows(ip("::ffff:203.0.113.77")));
        assert!(!list.allows(ip("203.0.114.1")));
    }

    #[test]
    fn empty_allows_all_and_garbage_is_refused() {
        assert!(IpAllowlist::default().allows(ip("192.0.2.1")));
        assert!(IpAllowlist::parse(["10.0.0.0/33"]).is_err());
        assert!(IpAllowlist::parse(["not an ip"]).is_err());
        assert_eq!(
            IpAllowlist::parse(["10.1.2.3/8"]).unwrap().to_string(),
            "10.0.0.0/8"
        );
    }
}
