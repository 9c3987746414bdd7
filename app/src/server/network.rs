//! Client networks: the unit every per-client limit and every repeated-event count keys
//! on. An IPv4 client is its address; an IPv6 client is its prefix (a /64 by default,
//! `LATCHKEY_IPV6_PREFIX`), because one subscriber holds a whole /64 and can take a new
//! address for every request.

use std::net::{IpAddr, Ipv6Addr};

/// The network `ip` belongs to: the address itself for IPv4 (and IPv4-mapped IPv6), the
/// first `v6_prefix` bits for IPv6.
pub fn network(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                IpAddr::V4(v4)
            } else {
                let bits = u32::from(v6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(ip: &str, prefix: u8) -> String {
        network(ip.parse().unwrap(), prefix).to_string()
    }

    #[test]
    fn ipv4_is_the_address_and_ipv6_its_prefix() {
        assert_eq!(net("192.0.2.7", 64), "192.0.2.7");
        assert_eq!(
            net("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64),
            "2001:db8:1:2::"
        );
        assert_eq!(net("2001:db8:1:2:ffff::1", 64), "2001:db8:1:2::");
        assert_eq!(net("2001:db8:1:2:aaaa::", 48), "2001:db8:1::");
        assert_eq!(net("2001:db8::1", 128), "2001:db8::1");
        assert_eq!(net("2001:db8::1", 0), "::");
        assert_eq!(net("::ffff:192.0.2.7", 64), "192.0.2.7");
    }
}
