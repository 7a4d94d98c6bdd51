//! Which address a request comes from, behind reverse proxies: the header the proxies write
//! (`TRUSTED_PROXY_HEADER`, e.g. `x-forwarded-for`) is believed only when the connection comes
//! from a trusted proxy (`TRUSTED_PROXIES`, CIDR blocks), and then read from the right, each
//! proxy having appended the address it received the request from: trusted addresses are
//! skipped, and the first untrusted one is the client. With a CDN in front of the ingress, list
//! the CDN's ranges too, or every client would be the CDN. Entries left of the client's came
//! from the client and prove nothing.

use std::fmt;
use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName};

/// An address block, `192.0.2.0/24` or `2001:db8::/32` (a bare address is a block of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `address[/prefix]`; the address must be the block's first (no host bits set).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an address or CIDR block"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => match prefix.parse::<u8>() {
                Ok(p) if p <= bits => p,
                _ => return Err(format!("{text:?}: the prefix must be 0 to {bits}")),
            },
        };
        let cidr = Self { network, prefix };
        if !cidr.contains(network) || mask(network, prefix) != network {
            return Err(format!(
                "{text:?}: host bits are set (did you mean {}/{prefix}?)",
                mask(network, prefix)
            ));
        }
        Ok(cidr)
    }

    /// Whether `address` is in the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub(crate) fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        match (self.network, address) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(address, self.prefix) == self.network
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// `address` with every bit past `prefix` cleared.
fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & kept).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & kept).into())
        }
    }
}

/// How the client's address is found.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProxyPolicy {
    /// The header the proxies write; `None`: the socket's peer is the client.
    pub(crate) header: Option<HeaderName>,
    /// The proxies whose header is believed.
    pub(crate) trusted: Vec<Cidr>,
}

impl ProxyPolicy {
    fn trusts(&self, address: IpAddr) -> bool {
        self.trusted.iter().any(|cidr| cidr.contains(address))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub(crate) fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        let Some(name) = &self.header else {
            return peer;
        };
        if !self.trusts(peer) {
            return peer;
        }
        // Every occurrence of the header, in order, as one list.
        let entries: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(address) = parse_entry(entry) else {
                // Not an address: whoever wrote it is not to be believed past here.
                return client;
            };
            client = address;
            if !self.trusts(address) {
                return address;
            }
        }
        client
    }
}

/// An address as proxies write it: bare, `[v6]`, or with a port (`v4:port`, `[v6]:port`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (v6, _) = rest.split_once(']')?;
        return v6.parse::<IpAddr>().ok().map(|a| a.to_canonical());
    }
    let (v4, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    v4.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(trusted: &[&str]) -> ProxyPolicy {
        ProxyPolicy {
            header: Some(HeaderName::from_static("x-forwarded-for")),
            trusted: trusted.iter().map(|t| Cidr::parse(t).unwrap()).collect(),
        }
    }

    fn client(policy: &ProxyPolicy, peer: &str, values: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        policy.client(peer.parse().unwrap(), &headers).to_string()
    }

    #[test]
    fn blocks_parse_and_contain_what_they_should() {
        let block = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(block.contains("10.1.255.7".parse().unwrap()));
        assert!(block.contains("::ffff:10.1.0.1".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        assert!(!block.contains("::1".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            Cidr::parse("192.0.2.7").unwrap().to_string(),
            "192.0.2.7/32"
        );
        for bad in [
            "10.1.0.1/16",
            "10.0.0.0/33",
            "::/129",
            "ten/8",
            "10.0.0.0/x",
            "",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Cidr::parse("10.1.0.1/16").unwrap_err(),
            "\"10.1.0.1/16\": host bits are set (did you mean 10.1.0.0/16?)"
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let policy = policy(&["10.0.0.0/8"]);
        assert_eq!(
            client(&policy, "203.0.113.9", &["198.51.100.7"]),
            "203.0.113.9"
        );
        let no_header = ProxyPolicy {
            header: None,
            ..policy
        };
        assert_eq!(
            client(&no_header, "10.0.0.5", &["198.51.100.7"]),
            "10.0.0.5"
        );
    }

    #[test]
    fn the_first_untrusted_address_from_the_right_is_the_client() {
        // Client 198.51.100.7 forged 1.2.3.4; a CDN (192.0.2.0/24) then the ingress appended.
        let behind_cdn = policy(&["10.0.0.0/8", "192.0.2.0/24"]);
        assert_eq!(
            client(
                &behind_cdn,
                "10.0.0.5",
                &["1.2.3.4, 198.51.100.7", "192.0.2.10"]
            ),
            "198.51.100.7"
        );
        // Without the CDN's range, every client would be the CDN: the documented trap.
        assert_eq!(
            client(
                &policy(&["10.0.0.0/8"]),
                "10.0.0.5",
                &["1.2.3.4, 198.51.100.7, 192.0.2.10"]
            ),
            "192.0.2.10"
        );
        // Ports and brackets as some proxies write them.
        assert_eq!(
            client(
                &behind_cdn,
                "10.0.0.5",
                &["[2001:db8::7]:443, 192.0.2.10:80"]
            ),
            "2001:db8::7"
        );
    }

    #[test]
    fn garbage_or_an_all_trusted_chain_stops_at_the_last_believed_hop() {
        let policy = policy(&["10.0.0.0/8"]);
        assert_eq!(
            client(&policy, "10.0.0.5", &["198.51.100.7, unknown"]),
            "10.0.0.5"
        );
        assert_eq!(client(&policy, "10.0.0.5", &[]), "10.0.0.5");
        assert_eq!(
            client(&policy, "10.0.0.5", &["10.0.0.9, 10.0.0.8"]),
            "10.0.0.9"
        );
        assert_eq!(
            client(&policy, "::ffff:10.0.0.5", &["198.51.100.7"]),
            "198.51.100.7"
        );
    }
}
