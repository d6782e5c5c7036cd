//! `set server B/S addr IP [port P]`, with HAProxy 2.6's words (its srv_update_addr_port):
//! each part says whether it changed, an invalid address changes nothing, a bad port
//! leaves the address change done.

use std::net::{IpAddr, SocketAddr};

/// Who made the change, as HAProxy ends the reply.
const UPDATER: &str = " by 'stats socket command'\n";

/// The reply, and the new address when something changed.
pub fn update(
    current: SocketAddr,
    addr: &str,
    port: Option<&str>,
    check_has_port: bool,
) -> (String, Option<SocketAddr>) {
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return (format!("Invalid addr '{addr}'{UPDATER}"), None);
    };
    let mut next = current;
    let mut msg = if ip == current.ip() {
        "no need to change the addr".to_string()
    } else {
        next.set_ip(ip);
        // HAProxy repeats the address as it was typed.
        format!("IP changed from '{}' to '{addr}'", current.ip())
    };
    if let Some(p) = port {
        msg.push_str(", ");
        match port_change(current.port(), p, check_has_port) {
            Ok((text, new)) => {
                msg.push_str(&text);
                next.set_port(new);
            }
            Err(text) => msg.push_str(&text),
        }
    }
    msg.push_str(UPDATER);
    (msg, (next != current).then_some(next))
}

/// The port part: its words and the new port, or why it stays.
fn port_change(current: u16, text: &str, check_has_port: bool) -> Result<(String, u16), String> {
    let Some((n, _)) = strtol(text) else {
        return Err(format!("problem converting port '{text}' to an int"));
    };
    if text.starts_with(['+', '-']) {
        // HAProxy's port mapping (a port relative to the client's): ringlb has none.
        if !check_has_port {
            return Err("can't change <port> to port map because it is incompatible with current health check port configuration (use 'port' statement from the 'server' directive.".into());
        }
        return Err("port mapping ('+N' / '-N') is not supported by ringlb".into());
    }
    // HAProxy keeps the low 16 bits (a uint16_t): 70000 is 4464.
    let new = (n & 0xffff) as u16;
    if new == current {
        Ok(("no need to change the port".into(), new))
    } else {
        Ok((format!("port changed from '{current}' to '{new}'"), new))
    }
}

/// C's strtol on a word: a sign, then the leading digits, and what follows them; `None`
/// without any digit or beyond a `long` (ERANGE, which HAProxy's port parsing refuses).
pub(super) fn strtol(text: &str) -> Option<(i64, &str)> {
    let (neg, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let n: i64 = rest.get(..digits)?.parse().ok()?;
    Some((if neg { -n } else { n }, &rest[digits..]))
}

/// C's atoi: strtol's value, 0 without digits (HAProxy reads `set maxconn` values so).
pub(super) fn atoi(text: &str) -> i64 {
    strtol(text).map_or(0, |(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn replies_as_haproxy() {
        let cur = at("127.0.0.1:18081");
        let (m, new) = update(cur, "127.0.0.2", None, false);
        assert_eq!(
            m,
            "IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n"
        );
        assert_eq!(new, Some(at("127.0.0.2:18081")));
        let (m, new) = update(cur, "127.0.0.1", Some("18081"), false);
        assert_eq!(
            m,
            "no need to change the addr, no need to change the port by 'stats socket command'\n"
        );
        assert_eq!(new, None);
        let (m, new) = update(cur, "127.0.0.1", Some("70000"), false);
        assert!(m.contains("port changed from '18081' to '4464'"), "{m}");
        assert_eq!(new, Some(at("127.0.0.1:4464")));
        let (m, _) = update(cur, "127.0.0.3", Some("x"), false);
        assert_eq!(m, "IP changed from '127.0.0.1' to '127.0.0.3', problem converting port 'x' to an int by 'stats socket command'\n");
        assert_eq!(update(cur, "bogus", None, false).1, None);
        assert!(update(cur, "127.0.0.1", Some("+5"), false)
            .0
            .contains("can't change <port> to port map"));
        let (m, _) = update(cur, "127.0.0.1", Some("123abc"), false);
        assert!(m.contains("port changed from '18081' to '123'"), "{m}");
    }
}
