//! `http-request normalize-uri` end to end: the README recipe that makes a path rule hold
//! against dot-segment, doubled-slash and percent-encoded spellings (and the bypass without
//! it), each normalizer's effect on the target the server receives, rule order, the 400 of
//! the `strict` options, and the config errors. The same cases run through HAProxy 2.6 in
//! tests/e2e_vs_haproxy.rs (`normalize_uri_*`).

mod common;

use common::*;

/// HAProxy 2.6 wants this before normalize-uri; ringlb accepts it (and does without).
const EXPERIMENTAL: &str = "global\n    expose-experimental-directives\n";

/// The README recipe, before a rule meant for `/admin`.
const RECIPE: &str = "    http-request normalize-uri percent-decode-unreserved strict\n\
                      \x20   http-request normalize-uri path-merge-slashes\n\
                      \x20   http-request normalize-uri path-strip-dot\n\
                      \x20   http-request normalize-uri path-strip-dotdot full\n";

const DENY_ADMIN: &str = "    http-request deny if { path_beg /admin }\n";

/// Spellings of `/admin` a server resolves to `/admin` (or `/admin/...`).
const ADMIN_VARIANTS: &[&str] = &[
    "/admin",
    "/x/../admin",
    "//admin",
    "/%61dmin",
    "/./admin",
    "/a/b/../../admin/",
    "/%2e/admin",
    "/x/%2E%2E/admin",
    "/../admin",
    "///%61dmin//.//x",
];

struct Setup {
    lb: Ringlb,
    be: HttpBackend,
}

fn start(driver: &str, rules: &str) -> Setup {
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "{EXPERIMENTAL}\nfrontend fe\n    bind 127.0.0.1:0\n{rules}\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    ));
    Setup {
        lb: Ringlb::start(&cfg, driver),
        be,
    }
}

impl Setup {
    fn get(&self, target: &str, headers: &[(&str, &str)]) -> Response {
        let mut c = Client::connect(self.lb.addr("fe"));
        c.send_request("GET", target, headers, b"");
        c.read_response()
    }

    /// The target the server received for `target`.
    fn forwarded(&self, target: &str, headers: &[(&str, &str)]) -> String {
        let r = self.get(target, headers);
        assert_eq!(r.status, 200, "{target}: {}", r.describe());
        r.seen().target
    }
}

both_drivers!(recipe_denies_every_spelling_of_a_denied_path, |driver| {
    let s = start(driver, &format!("{RECIPE}{DENY_ADMIN}"));
    for t in ADMIN_VARIANTS {
        assert_eq!(s.get(t, &[]).status, 403, "{t} must meet the /admin rule");
    }
    assert_eq!(
        s.be.requests(),
        0,
        "no spelling of /admin reached the server"
    );
    // Other paths still pass, normalized.
    assert_eq!(s.forwarded("/public//x/./y/../z", &[]), "/public/x/z");
    assert_eq!(s.forwarded("/%7Euser/%41", &[]), "/~user/A");
    assert_eq!(s.forwarded("/administrator/../ok", &[]), "/ok");
    // Reserved characters stay encoded: `%2F` is not a path separator.
    assert_eq!(s.forwarded("/x%2F..%2Fadmin", &[]), "/x%2F..%2Fadmin");
    // A malformed escape is refused rather than guessed at (strict).
    assert_eq!(s.get("/%%36%31dmin", &[]).status, 400);
});

both_drivers!(without_the_recipe_the_spellings_bypass_the_rule, |driver| {
    let s = start(driver, DENY_ADMIN);
    assert_eq!(s.get("/admin", &[]).status, 403);
    for t in &ADMIN_VARIANTS[1..] {
        assert_eq!(s.forwarded(t, &[]), *t, "{t} passes the /admin rule");
    }
    assert_eq!(s.be.requests(), ADMIN_VARIANTS.len() - 1);
});

both_drivers!(
    readme_encoded_slash_rule_refuses_what_the_recipe_leaves,
    |driver| {
        let s = start(
            driver,
            &format!("{RECIPE}    http-request deny if {{ path -m sub -i %2f }}\n{DENY_ADMIN}"),
        );
        for t in ["/x%2F..%2Fadmin", "/x%2f..%2fadmin", "/%2fadmin"] {
            assert_eq!(s.get(t, &[]).status, 403, "{t}");
        }
        assert_eq!(s.forwarded("/x/%2e%2e/ok", &[]), "/ok");
    }
);

/// One normalizer per `x-n` header value, each as the only one applied to a request.
const EACH: &str = "\
    http-request normalize-uri path-merge-slashes if { req.hdr(x-n) merge }\n\
    http-request normalize-uri path-strip-dot if { req.hdr(x-n) dot }\n\
    http-request normalize-uri path-strip-dotdot if { req.hdr(x-n) dotdot }\n\
    http-request normalize-uri path-strip-dotdot full if { req.hdr(x-n) dotdot-full }\n\
    http-request normalize-uri percent-decode-unreserved if { req.hdr(x-n) decode }\n\
    http-request normalize-uri percent-decode-unreserved strict if { req.hdr(x-n) decode-strict }\n\
    http-request normalize-uri percent-to-uppercase if { req.hdr(x-n) upper }\n\
    http-request normalize-uri percent-to-uppercase strict if { req.hdr(x-n) upper-strict }\n\
    http-request normalize-uri query-sort-by-name if { req.hdr(x-n) sort }\n\
    http-request normalize-uri fragment-encode if { req.hdr(x-n) frag-encode }\n\
    http-request normalize-uri fragment-strip if { req.hdr(x-n) frag-strip }\n";

both_drivers!(each_normalizer_rewrites_the_forwarded_target, |driver| {
    let s = start(driver, EACH);
    for (n, input, want) in [
        ("merge", "//a///b/?q=//x", "/a/b/?q=//x"),
        ("dot", "/./a/./b/.", "/a/b/"),
        ("dot", "/.well-known/x", "/.well-known/x"),
        ("dotdot", "/a/b/../c/../../d", "/d"),
        ("dotdot", "/bar/../../x", "/../x"),
        ("dotdot", "/a/..?x=/../", "/?x=/../"),
        ("dotdot-full", "/bar/../../x", "/x"),
        ("decode", "/%61%62%2F%7e?k=%41%3D", "/ab%2F~?k=A%3D"),
        ("decode", "/%%36%36", "/%66"),
        ("decode", "/%zz", "/%zz"),
        ("decode-strict", "/%41", "/A"),
        ("upper", "/%2f%e9?x=%3d", "/%2F%E9?x=%3D"),
        ("upper", "/%zz", "/%zz"),
        ("upper-strict", "/%2f", "/%2F"),
        ("sort", "/p?c=3&a=1&b=2&a=0", "/p?a=1&a=0&b=2&c=3"),
        ("sort", "/p?aaa&a&aa", "/p?a&aa&aaa"),
        ("sort", "/p", "/p"),
        // Without a `#`, the fragment normalizers have nothing to do (a `#` in a target is
        // refused before the rules, as HAProxy does: rules/normalize.rs tests them).
        ("frag-encode", "/a?b", "/a?b"),
        ("frag-strip", "/a?b", "/a?b"),
        // Not selected: unchanged.
        ("none", "//a/./b/../%61", "//a/./b/../%61"),
    ] {
        assert_eq!(s.forwarded(input, &[("X-N", n)]), want, "{n} {input}");
    }
});

both_drivers!(strict_refuses_bad_escapes_with_400_and_closes, |driver| {
    let s = start(driver, EACH);
    for (n, t) in [
        ("decode-strict", "/%zz"),
        ("decode-strict", "/a%4"),
        ("decode-strict", "/%%36%36"),
        ("upper-strict", "/%g0"),
        ("upper-strict", "/ok?x=%"),
    ] {
        let mut c = Client::connect(s.lb.addr("fe"));
        c.send_request("GET", t, &[("X-N", n)], b"");
        let r = c.read_response();
        assert_eq!(r.status, 400, "{n} {t}: {}", r.describe());
        assert!(r.has_token("connection", "close"), "{}", r.describe());
        assert!(r.text().contains("400 Bad request"), "{}", r.describe());
        c.expect_closed();
    }
    assert_eq!(s.be.requests(), 0);
});

both_drivers!(normalize_runs_in_rule_order_and_routing_sees_it, |driver| {
    let admin = HttpBackend::start("admin");
    let app = HttpBackend::start("app");
    let cfg = http_cfg(&format!(
        "{EXPERIMENTAL}\nfrontend fe\n    bind 127.0.0.1:0\n\
         \x20   http-request set-header X-Before %[path]\n\
         \x20   http-request normalize-uri path-strip-dotdot unless {{ req.hdr(x-raw) -m found }}\n\
         \x20   http-request set-header X-After %[path]\n\
         \x20   http-request set-path /v2%[path] if {{ path_beg /api/ }}\n\
         \x20   http-request normalize-uri path-merge-slashes\n\
         \x20   use_backend admin if {{ path_beg /admin }}\n\
         \x20   default_backend app\n\n\
         backend admin\n    server a1 {}\n\n\
         backend app\n    server s1 {}\n",
        admin.addr, app.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let get = |t: &str, h: &[(&str, &str)]| {
        let mut c = Client::connect(lb.addr("fe"));
        c.send_request("GET", t, h, b"");
        c.read_response()
    };
    let r = get("/x/../admin", &[]);
    assert_eq!(r.server(), "admin", "use_backend sees the normalized path");
    let seen = r.seen();
    assert_eq!(seen.target, "/admin");
    assert_eq!(seen.header("x-before"), Some("/x/../admin"));
    assert_eq!(seen.header("x-after"), Some("/admin"));
    // The condition holds back the first normalizer; the second still runs.
    let r = get("/x/..//admin", &[("X-Raw", "1")]);
    assert_eq!(r.server(), "app");
    assert_eq!(r.seen().target, "/x/../admin");
    // A later normalizer works on what set-path made.
    let r = get("/api/x/../y", &[]);
    assert_eq!(r.seen().target, "/v2/api/y");
    let r = get("/api//y", &[]);
    assert_eq!(r.seen().target, "/v2/api/y");
});

#[test]
fn config_errors_name_the_normalizer() {
    let out = Ringlb::check(&http_cfg(
        "frontend fe\n    bind 127.0.0.1:0\n\
         \x20   http-request normalize-uri\n\
         \x20   http-request normalize-uri path-merge-slash\n\
         \x20   http-request normalize-uri path-strip-dotdot strict\n\
         \x20   http-request normalize-uri percent-to-uppercase full if TRUE\n\
         \x20   http-request normalize-uri query-sort-by-name now\n\
         \x20   http-response normalize-uri path-strip-dot\n\
         \x20   default_backend app\n\
         backend app\n    server s1 127.0.0.1:1\n",
    ));
    assert_eq!(out.code, Some(1), "{}", out.output);
    let file = out.path.display().to_string();
    for want in [
        ":12: http-request normalize-uri: missing argument <normalizer> (one of fragment-encode,",
        ":13: http-request normalize-uri: unknown normalizer 'path-merge-slash'; did you mean 'path-merge-slashes'?",
        ":14: http-request normalize-uri: unknown argument 'strict' for 'path-strip-dotdot' normalizer (it takes 'full' or nothing)",
        ":15: http-request normalize-uri: unknown argument 'full' for 'percent-to-uppercase' normalizer (it takes 'strict' or nothing)",
        ":16: http-request normalize-uri: unexpected 'now'",
        ":17: http-response normalize-uri: action 'normalize-uri' is not available in http-response rules",
    ] {
        assert!(
            out.output.contains(&format!("{file}{want}")),
            "missing {want:?} in:\n{}",
            out.output
        );
    }
    // Without `expose-experimental-directives` (HAProxy 2.6 requires it) and with it.
    let rules =
        "frontend fe\n    bind 127.0.0.1:0\n    http-request normalize-uri path-strip-dot\n\
                 \x20   default_backend app\nbackend app\n    server s1 127.0.0.1:1\n";
    for cfg in [http_cfg(rules), http_cfg(&format!("{EXPERIMENTAL}{rules}"))] {
        let out = Ringlb::check(&cfg);
        assert_eq!(out.code, Some(0), "{}", out.output);
    }
}
