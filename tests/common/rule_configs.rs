//! Configs the rules suite (tests/e2e_rules.rs, which asserts values) and the differential suite
//! (tests/e2e_vs_haproxy.rs, which compares ringlb with HAProxy 2.6) share: written once so the
//! two suites always exercise the same rules.

use super::TempDir;

/// The map and pattern files the shared rules read, written into `dir` (the configs say `DIR`).
pub fn write_rule_files(dir: &TempDir) {
    dir.write(
        "hosts.map",
        "# host -> backend tag\nexample.com tag-example\napi.example.com tag-api\n",
    );
    dir.write("prefix.map", "/api/v2 v2\n/api v1\n");
    dir.write(
        "nets.map",
        "10.0.0.0/8 ten\n127.0.0.0/8 loop\n127.0.0.1/32 exact\n",
    );
    dir.write("dom.map", "example.com dom-example\n");
    dir.write("blocked.lst", "# paths refused\n/blocked\n/private\n");
}

/// Frontend rules over ACLs of every kind (variables, pattern files, counts, lengths, addresses,
/// ports, anonymous ACLs), with `ACL_RULES_BE` on the backend.
pub const ACL_RULES_FE: &str = "    http-request set-var(txn.host) req.hdr(host),lower\n\
     \x20   acl is_local var(txn.host) -m beg test.\n\
     \x20   acl blocked path -f DIR/blocked.lst\n\
     \x20   acl big req.hdr_cnt(x-n) gt 2\n\
     \x20   acl long_path path -m len ge 10\n\
     \x20   acl from_lo src 127.0.0.0/8\n\
     \x20   acl lo_port dst_port 1:65535\n\
     \x20   http-request deny deny_status 404 if blocked\n\
     \x20   http-request deny deny_status 413 if big\n\
     \x20   http-request set-header X-Local yes if is_local from_lo lo_port\n\
     \x20   http-request set-header X-Long yes if long_path\n\
     \x20   http-request set-header X-True yes if { always_true }\n\
     \x20   http-request set-header X-False yes if { always_false }\n\
     \x20   http-request set-header X-Var %[var(txn.host)]\n\
     \x20   http-request unset-var(txn.host)\n\
     \x20   http-request set-header X-Unset %[var(txn.host)]";

/// The backend half of `ACL_RULES_FE`: a txn variable set by the frontend, read by the backend.
pub const ACL_RULES_BE: &str = "    http-request set-header X-Be-Var %[var(txn.host)]";

/// `openssl passwd -6 -salt saltsalt secret` and `openssl passwd -5 -salt saltsalt secret`.
pub const SHA512: &str = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
pub const SHA256: &str = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";

/// A userlist with a group, each password kind (sha512-crypt, sha256-crypt, insecure) and a
/// user put in a group from the group's side.
pub fn userlist_admins() -> String {
    format!(
        "userlist admins\n    group ops\n    group dev users carol\n\
         \x20   user alice password {SHA512} groups ops\n\
         \x20   user bob password {SHA256}\n\
         \x20   user carol insecure-password plain\n"
    )
}

/// Frontend rules asking for `userlist_admins` credentials (`/admin`: any user, `/ops`: group ops).
pub const AUTH_RULES_FE: &str = "    acl ok http_auth(admins)\n\
     \x20   acl is_ops http_auth_group(admins) ops\n\
     \x20   http-request auth realm Admin if { path_beg /admin } !ok\n\
     \x20   http-request auth if { path_beg /ops } !is_ops\n\
     \x20   http-request set-header X-User %[http_auth_group(admins)]";

/// Standard base64 (the `Authorization: Basic` value of `user:password`).
pub fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
