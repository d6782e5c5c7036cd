//! Content switching: `use_backend` with inline and named ACLs, AND, `||`, `!`, `unless`,
//! first-match order and `default_backend`. Each backend has one test server named like it,
//! so `x-server` says where a request went.

mod common;

use common::*;

struct Routed {
    lb: Ringlb,
    _backends: Vec<HttpBackend>,
}

impl Routed {
    /// Starts one server per backend name and a frontend `fe` with `rules` inside.
    fn start(driver: &str, names: &[&str], rules: &str) -> Routed {
        let backends: Vec<HttpBackend> = names.iter().map(|n| HttpBackend::start(n)).collect();
        let mut cfg = format!("frontend fe\n    bind 127.0.0.1:0\n{rules}\n");
        for (n, b) in names.iter().zip(&backends) {
            cfg.push_str(&format!("\nbackend {n}\n    server {n} {}\n", b.addr));
        }
        Routed {
            lb: Ringlb::start(&http_cfg(&cfg), driver),
            _backends: backends,
        }
    }

    /// Where `method path` with `headers` lands (the answering server's name, or the status).
    fn route(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> String {
        let mut c = Client::connect(self.lb.addr("fe"));
        c.send_request(method, path, headers, b"");
        let r = c.read_response();
        if r.status == 200 {
            r.server()
        } else {
            format!("status {}", r.status)
        }
    }

    fn get(&self, path: &str) -> String {
        self.route("GET", path, &[])
    }
}

both_drivers!(path_beg_and_default_backend, |driver| {
    let r = Routed::start(
        driver,
        &["api", "dflt"],
        "    use_backend api if { path_beg /api }\n    default_backend dflt",
    );
    assert_eq!(r.get("/api"), "api");
    assert_eq!(r.get("/api/users?id=1"), "api");
    assert_eq!(r.get("/other"), "dflt");
    assert_eq!(
        r.get("/API/x"),
        "dflt",
        "path_beg is case-sensitive without -i"
    );
    assert_eq!(r.get("/x/api"), "dflt");
});

both_drivers!(host_header_ignore_case, |driver| {
    let r = Routed::start(
        driver,
        &["b", "dflt"],
        "    use_backend b if { hdr(host) -i b.example.com }\n    default_backend dflt",
    );
    assert_eq!(
        r.route("GET", "/", &[("X-Other", "1")]),
        "dflt",
        "Host test.local"
    );
    let mut c = Client::connect(r.lb.addr("fe"));
    c.send("GET / HTTP/1.1\r\nHost: B.Example.COM\r\n\r\n");
    assert_eq!(c.read_response().server(), "b");
    c.send("GET / HTTP/1.1\r\nHost: c.example.com\r\n\r\n");
    assert_eq!(
        c.read_response().server(),
        "dflt",
        "routing must be per request on keep-alive"
    );
    c.send("GET / HTTP/1.1\r\nHost: b.example.com\r\n\r\n");
    assert_eq!(c.read_response().server(), "b");
});

both_drivers!(named_acls_are_anded, |driver| {
    let r = Routed::start(
        driver,
        &["admin", "dflt"],
        "    acl is_admin path_beg /admin\n    acl office hdr(x-office) -i yes\n    \
         use_backend admin if is_admin office\n    default_backend dflt",
    );
    assert_eq!(r.route("GET", "/admin/x", &[("X-Office", "YES")]), "admin");
    assert_eq!(r.route("GET", "/admin/x", &[]), "dflt");
    assert_eq!(r.route("GET", "/admin/x", &[("X-Office", "no")]), "dflt");
    assert_eq!(r.route("GET", "/user", &[("X-Office", "yes")]), "dflt");
});

both_drivers!(or_between_conditions, |driver| {
    let r = Routed::start(
        driver,
        &["images", "dflt"],
        "    acl png path_end .png\n    acl gif path_end .gif\n    \
         use_backend images if png || gif\n    default_backend dflt",
    );
    assert_eq!(r.get("/a.png"), "images");
    assert_eq!(r.get("/b/c.gif"), "images");
    assert_eq!(r.get("/d.jpg"), "dflt");
});

both_drivers!(negation, |driver| {
    let r = Routed::start(
        driver,
        &["posts", "dflt"],
        "    acl is_post method POST\n    acl is_admin path_beg /admin\n    \
         use_backend posts if is_post !is_admin\n    default_backend dflt",
    );
    assert_eq!(r.route("POST", "/x", &[]), "posts");
    assert_eq!(r.route("POST", "/admin", &[]), "dflt");
    assert_eq!(r.route("GET", "/x", &[]), "dflt");
});

both_drivers!(unless_condition, |driver| {
    let r = Routed::start(
        driver,
        &["guests", "dflt"],
        "    use_backend guests unless { hdr(x-user) -m found }\n    default_backend dflt",
    );
    assert_eq!(r.get("/page"), "guests");
    assert_eq!(r.route("GET", "/page", &[("X-User", "alice")]), "dflt");
});

both_drivers!(first_matching_rule_wins, |driver| {
    let r = Routed::start(
        driver,
        &["first", "second", "dflt"],
        "    use_backend first if { path_beg /a }\n    use_backend second if { path_beg /ab }\n    \
         default_backend dflt",
    );
    assert_eq!(r.get("/abc"), "first");
    assert_eq!(r.get("/b"), "dflt");
});

both_drivers!(same_name_acl_lines_are_ored, |driver| {
    let r = Routed::start(
        driver,
        &["static", "dflt"],
        "    acl st path_beg /static\n    acl st path_end .css\n    \
         use_backend static if st\n    default_backend dflt",
    );
    assert_eq!(r.get("/static/x.js"), "static");
    assert_eq!(r.get("/theme/site.css"), "static");
    assert_eq!(r.get("/index.html"), "dflt");
});

both_drivers!(no_match_and_no_default_gives_503, |driver| {
    let r = Routed::start(driver, &["api"], "    use_backend api if { path_beg /api }");
    assert_eq!(r.get("/api/x"), "api");
    assert_eq!(r.get("/elsewhere"), "status 503");
});

both_drivers!(listen_section_routes_to_its_servers, |driver| {
    let be = HttpBackend::start("ls");
    let cfg = http_cfg(&format!(
        "listen both\n    bind 127.0.0.1:0\n    server ls {}\n",
        be.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    assert_eq!(get_once(lb.addr("both"), "/").server(), "ls");
});
