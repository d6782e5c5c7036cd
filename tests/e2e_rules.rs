//! HTTP rules end to end: `http-request`, `http-response`, `http-after-response`, sample
//! fetches and converters, log-format strings, userlists, map and pattern files, rule order and
//! terminal actions. Expected values were checked against HAProxy 2.6 with the same configs
//! where the behaviour is observable (see README "How ringlb differs" for the exceptions).

mod common;

use common::*;
use std::time::{Duration, Instant};

/// `frontend fe` with `fe_rules`, routing to `app` (one test server `s1`) which has `be_rules`.
struct Setup {
    lb: Ringlb,
    _be: HttpBackend,
    _dir_kept: (),
}

fn start_with(driver: &str, fe_rules: &str, be_rules: &str, extra: &str) -> Setup {
    let be = HttpBackend::start("s1");
    let dir = TempDir::new();
    write_rule_files(&dir);
    let path = dir.path().display().to_string();
    let cfg = http_cfg(&format!(
        "{extra}\nfrontend fe\n    bind 127.0.0.1:0\n{}\n    default_backend app\n\n\
         backend app\n{}\n    server s1 {}\n",
        fe_rules.replace("DIR", &path),
        be_rules.replace("DIR", &path),
        be.addr
    ));
    Setup {
        lb: Ringlb::start_in(dir, &cfg, driver),
        _be: be,
        _dir_kept: (),
    }
}

fn start(driver: &str, fe_rules: &str) -> Setup {
    start_with(driver, fe_rules, "", "")
}

impl Setup {
    fn send(&self, raw: &str) -> Response {
        let mut c = Client::connect(self.lb.addr("fe"));
        c.send(raw);
        c.read_response()
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut c = Client::connect(self.lb.addr("fe"));
        c.send_request("GET", path, headers, b"");
        c.read_response()
    }
}

both_drivers!(request_fetches_into_headers, |driver| {
    let s = start(
        driver,
        "    http-request set-header X-Src %[src]\n\
         \x20   http-request set-header X-Ci %ci:%cp\n\
         \x20   http-request set-header X-Dst %[dst]:%[dst_port]\n\
         \x20   http-request set-header X-Fi %fi:%fp\n\
         \x20   http-request set-header X-Port-Ok %[src_port,length]\n\
         \x20   http-request set-header X-Method %[method]\n\
         \x20   http-request set-header X-Path %[path]\n\
         \x20   http-request set-header X-Url %[url]\n\
         \x20   http-request set-header X-Query %[query]\n\
         \x20   http-request set-header X-Base %[base]\n\
         \x20   http-request set-header X-Param %[url_param(id)]\n\
         \x20   http-request set-header X-Hdr %[req.hdr(x-list)]\n\
         \x20   http-request set-header X-Hdr1 %[req.hdr(x-list,1)]\n\
         \x20   http-request set-header X-Fhdr %[req.fhdr(x-list)]\n\
         \x20   http-request set-header X-Cnt %[req.hdr_cnt(x-list)]\n\
         \x20   http-request set-header X-Cook %[req.cook(sid)]\n\
         \x20   http-request set-header X-Ver %[req.ver]\n\
         \x20   http-request set-header X-Legacy %[hdr(host)]\n\
         \x20   http-request set-header X-Env %[env(RINGLB_TEST_ENV)]\n\
         \x20   http-request set-header X-Lf \"%HM %HU %HP %HV %f\"\n\
         \x20   http-request set-header X-R %r",
    );
    let r = s.send(
        "GET /p/q?id=42&x=y HTTP/1.1\r\nHost: Example.com\r\nX-List: a, b\r\nX-List: c\r\n\
         Cookie: a=1; sid=xyz\r\n\r\n",
    );
    let seen = r.seen();
    let h = |n: &str| seen.header(n).map(String::from).unwrap_or_default();
    assert_eq!(h("x-src"), "127.0.0.1");
    assert!(h("x-ci").starts_with("127.0.0.1:"));
    assert_eq!(h("x-dst"), format!("127.0.0.1:{}", s.lb.addr("fe").port()));
    assert_eq!(h("x-fi"), h("x-dst"));
    assert!(!h("x-port-ok").is_empty());
    assert_eq!(h("x-method"), "GET");
    assert_eq!(h("x-path"), "/p/q");
    assert_eq!(h("x-url"), "/p/q?id=42&x=y");
    assert_eq!(h("x-query"), "id=42&x=y");
    assert_eq!(h("x-base"), "Example.com/p/q");
    assert_eq!(h("x-param"), "42");
    assert_eq!(
        h("x-hdr"),
        "c",
        "req.hdr without occurrence is the last value"
    );
    assert_eq!(h("x-hdr1"), "a");
    assert_eq!(h("x-fhdr"), "c", "fhdr: the last full line");
    assert_eq!(h("x-cnt"), "3");
    assert_eq!(h("x-cook"), "xyz");
    assert_eq!(h("x-ver"), "1.1");
    assert_eq!(h("x-legacy"), "Example.com");
    assert_eq!(h("x-env"), "from-env");
    assert_eq!(h("x-lf"), "GET /p/q?id=42&x=y /p/q HTTP/1.1 fe");
    assert_eq!(h("x-r"), "GET /p/q?id=42&x=y HTTP/1.1");
});

both_drivers!(converters, |driver| {
    let s = start(
        driver,
        "    http-request set-header X-Lower %[req.hdr(host),lower]\n\
         \x20   http-request set-header X-Upper %[path,upper]\n\
         \x20   http-request set-header X-Regsub %[path,regsub(/,_,g)]\n\
         \x20   http-request set-header X-Regsub1 %[path,regsub(^/api/,/v1/)]\n\
         \x20   http-request set-header X-B64 %[req.hdr(x-in),base64]\n\
         \x20   http-request set-header X-Field %[path,field(3,/)]\n\
         \x20   http-request set-header X-Word %[path,word(2,/)]\n\
         \x20   http-request set-header X-Len %[path,length]\n\
         \x20   http-request set-header X-Json %[req.hdr(x-q),json]\n\
         \x20   http-request set-header X-Mask %[src,ipmask(24)]\n\
         \x20   http-request set-header X-Map %[req.hdr(host),lower,map(DIR/hosts.map,none)]\n\
         \x20   http-request set-header X-Map-Str %[req.hdr(host),lower,map_str(DIR/hosts.map)]\n\
         \x20   http-request set-header X-Map-Beg %[path,map_beg(DIR/prefix.map)]\n\
         \x20   http-request set-header X-Map-Dom %[req.hdr(x-d),map_dom(DIR/dom.map)]\n\
         \x20   http-request set-header X-Map-Ip %[src,map_ip(DIR/nets.map)]\n\
         \x20   http-request set-header X-Miss %[req.hdr(x-none),map(DIR/hosts.map)]",
    );
    let r = s.get(
        "/api/v2/users",
        &[
            ("X-In", "hello"),
            ("X-Q", "a\"b"),
            ("X-D", "www.example.com"),
        ],
    );
    let seen = r.seen();
    let h = |n: &str| seen.header(n).map(String::from).unwrap_or_default();
    assert_eq!(h("x-lower"), "test.local");
    assert_eq!(h("x-upper"), "/API/V2/USERS");
    assert_eq!(h("x-regsub"), "_api_v2_users");
    assert_eq!(h("x-regsub1"), "/v1/v2/users");
    assert_eq!(h("x-b64"), "aGVsbG8=");
    assert_eq!(h("x-field"), "v2");
    assert_eq!(h("x-word"), "v2");
    assert_eq!(h("x-len"), "13");
    assert_eq!(h("x-json"), "a\\\"b");
    assert_eq!(h("x-mask"), "127.0.0.0");
    assert_eq!(h("x-map"), "none", "a miss takes the default");
    assert_eq!(h("x-map-str"), "", "a miss without default is empty");
    assert_eq!(h("x-map-beg"), "v2", "first matching line of the file");
    assert_eq!(h("x-map-dom"), "dom-example");
    assert_eq!(h("x-map-ip"), "exact", "longest prefix");
    assert_eq!(h("x-miss"), "");
    let r = s.send("GET / HTTP/1.1\r\nHost: API.Example.com\r\n\r\n");
    assert_eq!(r.seen().header("x-map"), Some("tag-api"));
});

both_drivers!(header_edits, |driver| {
    let s = start(
        driver,
        "    http-request add-header X-Added one\n\
         \x20   http-request add-header X-Added two\n\
         \x20   http-request set-header X-Set replaced\n\
         \x20   http-request del-header X-Secret\n\
         \x20   http-request replace-header X-Host (.*)\\.internal \\1.example.com\n\
         \x20   http-request replace-value X-Tags ^old-(.*)$ new-\\1\n\
         \x20   http-request set-header X-Seen-Set %[req.hdr(x-set)]",
    );
    let r = s.get(
        "/",
        &[
            ("X-Set", "a"),
            ("X-Set", "b"),
            ("X-Secret", "s"),
            ("X-Host", "app.internal"),
            ("X-Tags", "old-a, keep, old-b"),
        ],
    );
    let seen = r.seen();
    assert_eq!(seen.all("x-added"), ["one", "two"]);
    assert_eq!(seen.all("x-set"), ["replaced"]);
    assert!(seen.header("x-secret").is_none());
    assert_eq!(seen.header("x-host"), Some("app.example.com"));
    assert_eq!(seen.header("x-tags"), Some("new-a, keep, new-b"));
    assert_eq!(
        seen.header("x-seen-set"),
        Some("replaced"),
        "a rule sees earlier edits"
    );
});

both_drivers!(uri_and_method_rewrites, |driver| {
    let s = start(
        driver,
        "    http-request set-path /v2%[path] if { path_beg /api }\n\
         \x20   http-request set-query x=1 if { path_beg /q }\n\
         \x20   http-request set-uri /fixed?y=2 if { path /u }\n\
         \x20   http-request set-method POST if { path /m }\n\
         \x20   http-request set-path %[path,regsub(^/strip,)] if { path_beg /strip/ }",
    );
    assert_eq!(s.get("/api/a?k=v", &[]).seen().target, "/v2/api/a?k=v");
    assert_eq!(s.get("/q?old=1", &[]).seen().target, "/q?x=1");
    assert_eq!(s.get("/u", &[]).seen().target, "/fixed?y=2");
    assert_eq!(s.get("/m", &[]).seen().method, "POST");
    assert_eq!(s.get("/strip/x?z", &[]).seen().target, "/x?z");
});

both_drivers!(variables_and_conditions, |driver| {
    let s = start_with(driver, ACL_RULES_FE, ACL_RULES_BE, "");
    let seen = s.get("/abcdefghijk", &[]).seen();
    assert_eq!(seen.header("x-local"), Some("yes"));
    assert_eq!(seen.header("x-long"), Some("yes"));
    assert_eq!(seen.header("x-true"), Some("yes"));
    assert!(seen.header("x-false").is_none());
    assert_eq!(seen.header("x-var"), Some("test.local"));
    assert_eq!(seen.header("x-unset"), Some(""));
    assert_eq!(
        seen.header("x-be-var"),
        Some(""),
        "unset before the backend ran"
    );
    assert!(s.get("/short", &[]).seen().header("x-long").is_none());
    assert_eq!(s.get("/blocked", &[]).status, 404);
    assert_eq!(s.get("/private", &[]).status, 404);
    let r = s.get("/", &[("X-N", "1"), ("X-N", "2, 3")]);
    assert_eq!(r.status, 413);
});

both_drivers!(order_and_terminal_actions, |driver| {
    let s = start_with(
        driver,
        "    http-request set-header X-Order fe1\n\
         \x20   http-request allow if { path /allow }\n\
         \x20   http-request deny if { path /deny }\n\
         \x20   http-request set-header X-Order fe2\n\
         \x20   http-request return status 200 content-type text/plain string first if { path /two }\n\
         \x20   http-request return status 500 content-type text/plain string second if { path /two }",
        "    http-request set-header X-Be %[req.hdr(x-order)]\n\
         \x20   http-request deny deny_status 429 if { path /be-deny }",
        "",
    );
    let seen = s.get("/", &[]).seen();
    assert_eq!(seen.header("x-order"), Some("fe2"));
    assert_eq!(
        seen.header("x-be"),
        Some("fe2"),
        "backend rules run after the frontend's"
    );
    let seen = s.get("/allow", &[]).seen();
    assert_eq!(
        seen.header("x-order"),
        Some("fe1"),
        "allow stops the frontend list"
    );
    assert_eq!(
        seen.header("x-be"),
        Some("fe1"),
        "... but not the backend's"
    );
    let r = s.get("/deny", &[]);
    assert_eq!(r.status, 403);
    assert!(r.text().contains("403 Forbidden"));
    let r = s.get("/two", &[]);
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "first"),
        "first terminal wins"
    );
    assert_eq!(s.get("/be-deny", &[]).status, 429);
    assert_eq!(
        s._be.requests(),
        2,
        "denied and returned requests never reach the server"
    );
});

both_drivers!(set_header_routes, |driver| {
    let other = HttpBackend::start("other");
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n\
         \x20   http-request set-header X-Route other if {{ path_beg /o }}\n\
         \x20   use_backend other if {{ req.hdr(x-route) other }}\n\
         \x20   default_backend app\n\n\
         backend app\n    server s1 {}\n\nbackend other\n    server other {}\n",
        be.addr, other.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    assert_eq!(get_once(lb.addr("fe"), "/o").server(), "other");
    assert_eq!(get_once(lb.addr("fe"), "/x").server(), "s1");
});

both_drivers!(replies, |driver| {
    let s = start(
        driver,
        "    http-request return status 201 content-type text/plain lf-string \"hi %[src] %[path]\" hdr X-Extra %[method] if { path_beg /ret }\n\
         \x20   http-request return if { path /empty }\n\
         \x20   http-request deny status 451 content-type application/json string '{\"no\":1}' if { path /legal }\n\
         \x20   http-request redirect location /new code 301 if { path /old }\n\
         \x20   http-request redirect prefix https://other.example drop-query if { path_beg /pfx }\n\
         \x20   http-request redirect prefix /base append-slash if { path_beg /dir }\n\
         \x20   http-request redirect scheme https if { path_beg /sec }",
    );
    let mut c = Client::connect(s.lb.addr("fe"));
    c.send_request("GET", "/ret/x", &[], b"");
    let r = c.read_response();
    assert_eq!(r.status, 201);
    assert_eq!(r.text(), "hi 127.0.0.1 /ret/x");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-extra"), Some("GET"));
    // The connection stays open after a rule's answer.
    c.send_request("GET", "/empty", &[], b"");
    let r = c.read_response();
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = s.get("/legal", &[]);
    assert_eq!((r.status, r.text().as_str()), (451, "{\"no\":1}"));
    let r = s.get("/old", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/new")));
    let r = s.get("/pfx/a?q=1", &[]);
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("https://other.example/pfx/a"))
    );
    // HAProxy 2.6 appends the slash at the very end, after the query (e2e_vs_haproxy:
    // redirect_append_slash_with_query).
    let r = s.get("/dir?q=1", &[]);
    assert_eq!(r.header("location"), Some("/base/dir?q=1/"));
    let r = s.get("/dir", &[]);
    assert_eq!(r.header("location"), Some("/base/dir/"));
    let r = s.get("/sec/p?q", &[]);
    assert_eq!(r.header("location"), Some("https://test.local/sec/p?q"));
});

both_drivers!(userlist_auth, |driver| {
    let users = userlist_admins();
    let s = start_with(driver, AUTH_RULES_FE, "", &users);
    let r = s.get("/admin", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"Admin\""));
    let basic = |u: &str| format!("Basic {}", b64(u));
    for (cred, ok) in [
        ("alice:secret", true),
        ("bob:secret", true),
        ("carol:plain", true),
        ("alice:wrong", false),
        ("nobody:secret", false),
    ] {
        let r = s.get("/admin", &[("Authorization", &basic(cred))]);
        assert_eq!(r.status == 200, ok, "{cred}: {}", r.describe());
    }
    let r = s.get("/ops", &[("Authorization", &basic("bob:secret"))]);
    assert_eq!(r.status, 401, "bob is in no group");
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"fe\""));
    let r = s.get("/ops", &[("Authorization", &basic("alice:secret"))]);
    assert_eq!(r.seen().header("x-user"), Some("alice"));
});

both_drivers!(tarpit_holds_then_500, |driver| {
    let s = start_with(
        driver,
        "    timeout tarpit 300ms\n    http-request tarpit if { path /bot }",
        "",
        "",
    );
    let t = Instant::now();
    let r = s.get("/bot", &[]);
    assert_eq!(r.status, 500);
    assert!(
        t.elapsed() >= Duration::from_millis(280),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(s.get("/human", &[]).status, 200);
});

both_drivers!(response_rules, |driver| {
    let s = start_with(
        driver,
        "    http-response set-header X-Fe fe-%[res.hdr(x-be)]\n\
         \x20   http-response del-header X-Server if { status 404 }\n\
         \x20   http-after-response set-header X-After \"%[status] %s %b\"\n\
         \x20   http-response deny if { res.hdr(x-server) -m found } { status 500 }",
        "    http-response set-header X-Be be\n\
         \x20   http-response add-header X-Srv %s:%[res.hdr_cnt(x-server)]\n\
         \x20   http-response replace-header Content-Type text/(.*) text/x-\\1\n\
         \x20   http-response set-status 299 reason Fine if { status 200 }",
        "",
    );
    let r = s.get("/", &[]);
    assert_eq!((r.status, r.reason.as_str()), (299, "Fine"));
    assert_eq!(r.header("x-be"), Some("be"));
    assert_eq!(
        r.header("x-fe"),
        Some("fe-be"),
        "backend response rules run first"
    );
    assert_eq!(r.header("x-srv"), Some("s1:1"));
    assert_eq!(r.header("x-after"), Some("299 s1 app"));
    let r = s.get("/status/404", &[]);
    assert_eq!(r.status, 404);
    assert!(r.header("x-server").is_none());
    let r = s.get("/status/500", &[]);
    assert_eq!(r.status, 502, "http-response deny answers 502, as HAProxy");
});

both_drivers!(originalto_and_forwardfor, |driver| {
    let s = start(
        driver,
        "    option originalto\n    option forwardfor header X-Client",
    );
    let seen = s.get("/", &[]).seen();
    assert_eq!(seen.header("x-original-to"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-client"), Some("127.0.0.1"));
});

// `option http-buffer-request`, values as HAProxy 2.6 gave them for the same config: a body
// sent slowly is waited for (within `timeout http-request`) and seen whole by the rules; one
// that does not come in time gets 408; one larger than the buffer goes on with what fits.
both_drivers!(http_buffer_request_waits_for_the_body, |driver| {
    let s = start(
        driver,
        "    timeout http-request 500ms\n    option http-buffer-request\n\
         \x20   http-request return status 200 content-type text/plain lf-string \"len=%[req.body_len] size=%[req.body_size]\" if { method POST }",
    );
    let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n";
    let mut c = Client::connect(s.lb.addr("fe"));
    c.send(format!("{head}abc"));
    std::thread::sleep(Duration::from_millis(200));
    c.send("defghij");
    let r = c.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"len=10 size=10"[..]));

    let mut c = Client::connect(s.lb.addr("fe"));
    let t = Instant::now();
    c.send(format!("{head}abc"));
    let r = c.read_response();
    assert_eq!(r.status, 408);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_secs(3),
        "{waited:?}"
    );

    // 40000 bytes: more than tune.bufsize less tune.maxrewrite (15360): the rules run with
    // what fits.
    let mut c = Client::connect(s.lb.addr("fe"));
    let big = "x".repeat(40000);
    c.send(format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n{big}"
    ));
    let r = c.read_response();
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert_eq!(r.status, 200);
    assert!(
        text.ends_with("size=40000") && !text.starts_with("len=40000"),
        "{text}"
    );
});
