//! Addresses: bind addresses, server addresses (hostnames resolved at load), networks.

use super::model::Cidr;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

/// Splits `HOST:PORT` / `[V6]:PORT`; the port part is `None` when there is no colon.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{text}': missing ']' after the IPv6 address"))?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host, Some(p))),
                None => Err(format!("'{text}': expected ':PORT' after ']'")),
            },
        };
    }
    Ok(match text.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (text, None),
    })
}

fn parse_port(text: &str, whole: &str) -> Result<u16, String> {
    if text.contains('-') {
        return Err(format!(
            "'{whole}': port ranges are not supported by ringlb yet; write one bind per port"
        ));
    }
    text.parse::<u16>()
        .map_err(|_| format!("'{whole}': invalid port '{text}' (expected 0 to 65535)"))
}

/// Strips HAProxy's `ipv4@` / `ipv6@` prefixes and refuses the address families ringlb lacks.
fn strip_family(text: &str) -> Result<&str, String> {
    if let Some(rest) = text
        .strip_prefix("ipv4@")
        .or_else(|| text.strip_prefix("ipv6@"))
    {
        return Ok(rest);
    }
    if text.starts_with('/') || text.contains('@') {
        return Err(format!(
            "'{text}': only IPv4/IPv6 TCP addresses are supported by ringlb yet (no unix sockets, abns@, fd@, sockpair@)"
        ));
    }
    Ok(text)
}

/// One `bind` address list: `*:80`, `:80`, `1.2.3.4:80`, `[::1]:80`, comma-separated.
pub fn parse_bind(text: &str) -> Result<Vec<SocketAddr>, String> {
    text.split(',').map(parse_one_bind).collect()
}

fn parse_one_bind(text: &str) -> Result<SocketAddr, String> {
    let bare = strip_family(text)?;
    let (host, port) = split_host_port(bare)?;
    let port = port.ok_or_else(|| {
        format!("'{text}': a bind address needs a port, e.g. '*:80' or '127.0.0.1:8080'")
    })?;
    let port = parse_port(port, text)?;
    let ip = match host {
        "" | "*" | "0.0.0.0" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        h => h.parse::<IpAddr>().map_err(|_| {
            format!("'{text}': '{h}' is not an IP address; bind needs an IP address ('*' for all), not a host name")
        })?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// A server address `HOST:PORT`; host names are resolved now (IPv4 preferred), as HAProxy does
/// at start-up without a resolvers section.
pub fn parse_server(text: &str) -> Result<SocketAddr, String> {
    let bare = strip_family(text)?;
    let (host, port) = split_host_port(bare)?;
    let port = match port {
        Some(p) if p.starts_with('+') || p.starts_with('-') => {
            return Err(format!("'{text}': port offsets are not supported by ringlb yet; give the server's port"))
        }
        Some(p) => parse_port(p, text)?,
        None => {
            return Err(format!(
                "'{text}': a server address needs a port, e.g. '{host}:8080' (ringlb does not reuse the client's port)"
            ))
        }
    };
    if host.is_empty() {
        return Err(format!("'{text}': missing host before ':{port}'"));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(format!(
            "'{text}': '{host}' is neither an IP address nor a host name"
        ));
    }
    let found: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("'{text}': cannot resolve host name '{host}' ({e}); use an IP address or fix the name"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| found.first())
        .copied()
        .ok_or_else(|| format!("'{text}': host name '{host}' resolves to no address"))
}

/// A bare IP address (server `addr` option).
pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("'{text}' is not an IP address"))
}

/// A network: `10.0.0.0/8`, `10.0.0.0/255.0.0.0`, `::1`, `2001:db8::/32`; a bare address is a
/// host network (/32 or /128).
pub fn parse_cidr(text: &str) -> Result<Cidr, String> {
    let (ip, mask) = match text.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (text, None),
    };
    let addr: IpAddr = ip
        .parse()
        .map_err(|_| format!("'{text}' is not an IP address or network (e.g. 10.0.0.0/8)"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match mask {
        None => max,
        Some(m) => match m.parse::<u8>() {
            Ok(p) if p <= max => p,
            Ok(_) => return Err(format!("'{text}': prefix length must be at most {max}")),
            Err(_) => dotted_mask(m).ok_or_else(|| format!("'{text}': invalid netmask '{m}'"))?,
        },
    };
    if !addr.is_ipv4() && mask.is_some_and(|m| m.contains('.')) {
        return Err(format!(
            "'{text}': an IPv6 network needs a prefix length, not a dotted mask"
        ));
    }
    Ok(Cidr { addr, prefix })
}

/// `255.255.255.0` -> 24; `None` for masks with holes.
fn dotted_mask(m: &str) -> Option<u8> {
    let v: Ipv4Addr = m.parse().ok()?;
    let bits = u32::from(v);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds() {
        let one = |s: &str| parse_bind(s).map(|v| v[0].to_string());
        assert_eq!(one("*:80"), Ok("0.0.0.0:80".into()));
        assert_eq!(one(":80"), Ok("0.0.0.0:80".into()));
        assert_eq!(one("1.2.3.4:80"), Ok("1.2.3.4:80".into()));
        assert_eq!(one("[::1]:80"), Ok("[::1]:80".into()));
        assert_eq!(one("[::]:0"), Ok("[::]:0".into()));
        assert_eq!(one("ipv4@127.0.0.1:8080"), Ok("127.0.0.1:8080".into()));
        assert_eq!(parse_bind(":80,:81").map(|v| v.len()), Ok(2));
        for bad in [
            "80",
            "*:",
            "*:99999",
            "host:80",
            "/tmp/sock",
            "[::1:80",
            ":80-90",
            "unix@/x",
        ] {
            assert!(parse_bind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn servers() {
        assert_eq!(
            parse_server("127.0.0.1:9001").map(|a| a.to_string()),
            Ok("127.0.0.1:9001".into())
        );
        assert_eq!(parse_server("[::1]:9001").map(|a| a.port()), Ok(9001));
        assert_eq!(parse_server("localhost:9001").map(|a| a.port()), Ok(9001));
        for bad in [
            "127.0.0.1",
            "127.0.0.1:+1",
            ":80",
            "bad host:80",
            "no-such-host.invalid:80",
        ] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        let c = parse_cidr("10.0.0.0/8").unwrap_or_else(|e| panic!("{e}"));
        assert!(c.contains("10.1.2.3".parse().unwrap_or_else(|_| panic!())));
        assert_eq!(parse_cidr("10.0.0.0/255.255.0.0").map(|c| c.prefix), Ok(16));
        assert_eq!(parse_cidr("::1").map(|c| c.prefix), Ok(128));
        for bad in ["10.0.0.0/33", "x", "10.0.0.0/255.0.255.0", "::/1.2.3.4"] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }
}
