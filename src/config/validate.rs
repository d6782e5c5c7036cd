//! Second pass: sections -> `Model`. Applies each line through the keyword table, inherits
//! defaults, splits `listen` into a frontend and a backend, resolves names to indexes, and checks
//! what needs the whole configuration (bind conflicts, modes, the file-descriptor budget).

use super::cond::{self, AclRef, CondDraft};
use super::draft::{GlobalDraft, HttpRuleDraft, ProxyDraft, UserlistDraft};
use super::error::Diags;
use super::expr::ParseEnv;
use super::keywords::{self, Target};
use super::log_resolve::{system_hostname, DEFAULT_LOG_TAG};
use super::model::*;
use super::model_rules::{HttpRule, Phase, User, Userlist};
use super::suggest;
use super::syntax::{Section, SectionKind};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// File descriptors HAProxy reserves beyond two per connection (listeners, logs, checks...).
const FD_RESERVE: u64 = 100;
/// Upper bound of the computed default global maxconn.
const MAX_DEFAULT_MAXCONN: u64 = 100_000;
/// Used when the limit cannot be read.
const FALLBACK_NOFILE: u64 = 1024;

/// The soft RLIMIT_NOFILE of this process.
pub fn nofile_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct we pass, which lives for the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
    if rc != 0 {
        return FALLBACK_NOFILE;
    }
    r.rlim_cur
}

/// Builds the model; `None` when errors were reported.
pub fn build(sections: Vec<Section>, diags: &mut Diags) -> Option<Model> {
    let model = build_all(sections, diags);
    (!diags.has_errors()).then_some(model)
}

fn build_all(sections: Vec<Section>, diags: &mut Diags) -> Model {
    let (global, proxies) = apply_sections(sections, diags);
    let global = build_global(global, diags);
    check_names(&proxies, diags);
    let backends: Vec<(&ProxyDraft, Backend)> = proxies
        .iter()
        .filter(|p| p.is_backend())
        .map(|p| (p, build_backend(p, &global, diags)))
        .collect();
    let mut by_name: HashMap<&str, BackendId> = HashMap::new();
    for (i, (p, _)) in backends.iter().enumerate() {
        by_name.entry(p.name.as_str()).or_insert(BackendId::new(i));
    }
    let ctx = Resolve {
        backends: &backends,
        by_name: &by_name,
        proxies: &proxies,
    };
    let mut frontends = Vec::new();
    for p in proxies.iter().filter(|p| p.is_frontend()) {
        if let Some(f) = build_frontend(p, &global, &ctx, diags) {
            frontends.push(f);
        }
    }
    check_binds(&frontends, diags);
    let backends = backends.into_iter().map(|(_, b)| b).collect();
    Model {
        global,
        frontends,
        backends,
    }
}

/// Runs every line through the keyword table; proxies start from their defaults. Global
/// sections go first wherever they are, so that proxies see the final `tune.bufsize` (the
/// bound of their errorfiles), and userlists next, so that rules can name them in any order.
fn apply_sections(sections: Vec<Section>, diags: &mut Diags) -> (GlobalDraft, Vec<ProxyDraft>) {
    let mut global = GlobalDraft::default();
    for sec in sections.iter().filter(|s| s.kind == SectionKind::Global) {
        for line in &sec.lines {
            keywords::apply(sec.kind, Target::Global(&mut global), line, diags);
        }
    }
    let mut named: HashMap<String, ProxyDraft> = HashMap::new();
    let mut last: Option<ProxyDraft> = None;
    let mut proxies = Vec::new();
    let env = ParseEnv {
        userlists: build_userlists(&sections, diags),
        bufsize: errorfile_bound(&global),
    };
    for sec in sections {
        if matches!(sec.kind, SectionKind::Userlist | SectionKind::Global) {
            continue;
        }
        let mut fresh = ProxyDraft::new(SectionKind::Defaults, String::new(), sec.loc.clone());
        let base = match &sec.from {
            Some(n) => match named.get(n) {
                Some(d) => d.clone(),
                None => {
                    let hint = suggest::hint(n, named.keys().map(String::as_str));
                    diags.error(
                        &sec.loc,
                        format!("no defaults section named '{n}' before this line{hint}"),
                    );
                    // What the missing section would have set is unknown: no "missing ..." checks.
                    fresh.failed.base = true;
                    fresh
                }
            },
            // A plain `defaults` resets everything; a proxy takes the last defaults section.
            None if sec.kind == SectionKind::Defaults => fresh,
            None => last.clone().unwrap_or(fresh),
        };
        let name = sec.name.clone().unwrap_or_default();
        let mut p = ProxyDraft::inherit(&base, sec.kind, name.clone(), sec.loc.clone());
        p.env = env.clone();
        for line in &sec.lines {
            keywords::apply(sec.kind, Target::Proxy(&mut p), line, diags);
        }
        if sec.kind == SectionKind::Defaults {
            if !name.is_empty() {
                named.insert(name, p.clone());
            }
            last = Some(p);
        } else {
            proxies.push(p);
        }
    }
    (global, proxies)
}

/// Errorfiles and reply payloads must fit in `tune.bufsize`; when its line failed, the value
/// meant is unknown, and only the bound of list files still applies.
fn errorfile_bound(global: &GlobalDraft) -> usize {
    if global.failed.quiet("tune.bufsize") {
        return usize::try_from(super::files::LIST_FILE_LIMIT).unwrap_or(usize::MAX);
    }
    global.bufsize.unwrap_or(DEFAULT_BUFSIZE)
}

fn build_userlists(sections: &[Section], diags: &mut Diags) -> Vec<Arc<Userlist>> {
    let mut out: Vec<Arc<Userlist>> = Vec::new();
    for sec in sections.iter().filter(|s| s.kind == SectionKind::Userlist) {
        let name = sec.name.clone().unwrap_or_default();
        if out.iter().any(|u| u.name == name) {
            diags.error(&sec.loc, format!("userlist '{name}' is defined twice"));
            continue;
        }
        let mut d = UserlistDraft {
            name,
            ..Default::default()
        };
        for line in &sec.lines {
            keywords::apply(sec.kind, Target::Userlist(&mut d), line, diags);
        }
        out.push(Arc::new(resolve_userlist(d, &sec.loc, diags)));
    }
    out
}

fn resolve_userlist(d: UserlistDraft, loc: &Loc, diags: &mut Diags) -> Userlist {
    let groups: Vec<String> = d.groups.iter().map(|g| g.0.clone()).collect();
    let mut users: Vec<User> = Vec::new();
    for u in d.users {
        if users.iter().any(|x| x.name == u.name) {
            diags.error(
                &u.loc,
                format!(
                    "user '{}' is defined twice in userlist '{}'",
                    u.name, d.name
                ),
            );
            continue;
        }
        let mut ids = Vec::new();
        for g in &u.groups {
            match groups.iter().position(|x| x == g) {
                Some(i) => ids.push(i),
                None if d.failed_groups.contains(g) => {}
                None => {
                    let hint = suggest::hint(g, groups.iter().map(String::as_str));
                    diags.error(
                        &u.loc,
                        format!(
                            "user '{}': no such group '{g}' in userlist '{}'{hint}",
                            u.name, d.name
                        ),
                    );
                }
            }
        }
        users.push(User {
            name: u.name,
            password: u.password,
            groups: ids,
        });
    }
    for (gi, (g, members, gloc)) in d.groups.iter().enumerate() {
        for m in members {
            match users.iter_mut().find(|u| &u.name == m) {
                Some(u) if !u.groups.contains(&gi) => u.groups.push(gi),
                Some(_) => {}
                None if d.failed_users.contains(m) => {}
                None => diags.error(
                    gloc,
                    format!("group '{g}': no such user '{m}' in userlist '{}'", d.name),
                ),
            }
        }
    }
    let _ = loc;
    Userlist {
        name: d.name,
        users,
        groups,
    }
}

/// Resolves the ACL names of a proxy's rules and sorts them by phase.
fn build_rules(
    p: &ProxyDraft,
    rules: &[HttpRuleDraft],
    acls: &mut Vec<Acl>,
    diags: &mut Diags,
) -> HttpRules {
    let mut out = HttpRules::default();
    for r in rules {
        let kw = r.phase.keyword();
        let cond = match &r.cond {
            Some(c) => match resolve_cond(c, acls, p, &r.loc, kw, diags) {
                Some(c) => c,
                None => continue,
            },
            None => None,
        };
        if let Some(c) = &cond {
            warn_never_matches(p, c, acls, r.phase, &r.loc, diags);
        }
        let rule = HttpRule {
            action: r.action.clone(),
            cond,
            loc: r.loc.clone(),
        };
        match r.phase {
            Phase::Request => out.request.push(rule),
            Phase::Response => out.response.push(rule),
            Phase::AfterResponse => out.after_response.push(rule),
        }
    }
    if p.mode != Some(Mode::Http) && !out.is_empty() && !p.failed.quiet("mode") {
        if let Some(r) = rules.first() {
            diags.error(
                &r.loc,
                format!(
                    "{}: {} '{}' is not in mode http; HTTP rules need 'mode http'",
                    r.phase.keyword(),
                    p.kind.name(),
                    p.name
                ),
            );
        }
    }
    out
}

/// HAProxy warns when an ACL in a rule can never match where the rule runs (a request fetch in
/// a response rule): such a term is simply false at run time.
fn warn_never_matches(
    p: &ProxyDraft,
    c: &Condition,
    acls: &[Acl],
    phase: Phase,
    loc: &Loc,
    diags: &mut Diags,
) {
    use super::model_rules::Needs;
    let wrong = match phase {
        Phase::Request => Needs::Response,
        Phase::Response | Phase::AfterResponse => Needs::Request,
    };
    for t in c.any_of.iter().flatten() {
        let Some(acl) = acls.get(t.acl) else { continue };
        if !acl.matchers.is_empty() && acl.matchers.iter().all(|m| m.expr.needs == wrong) {
            let name = if acl.name.is_empty() {
                "anonymous"
            } else {
                acl.name.as_str()
            };
            diags.warn(
                loc,
                format!(
                    "acl '{name}' will never match because it only involves keywords that are incompatible with '{} {} rule'",
                    p.kind.name(),
                    phase.keyword()
                ),
            );
        }
    }
}

fn build_global(g: GlobalDraft, diags: &mut Diags) -> Global {
    let limit = nofile_limit();
    let most = limit.saturating_sub(FD_RESERVE) / 2;
    let maxconn = match &g.maxconn {
        Some((n, loc)) => {
            let needed = 2 * u64::from(*n) + FD_RESERVE;
            if needed > limit {
                diags.error(
                    loc,
                    format!(
                        "maxconn {n} needs about {needed} file descriptors but RLIMIT_NOFILE is {limit}; \
                         lower maxconn to at most {most} or raise the limit (ulimit -n)"
                    ),
                );
            }
            *n
        }
        None => u32::try_from(most.clamp(1, MAX_DEFAULT_MAXCONN)).unwrap_or(1),
    };
    let h2 = super::h2_tune::finish(&g);
    Global {
        daemon: g.daemon,
        user: g.user,
        group: g.group,
        maxconn,
        nbthread: g.nbthread,
        cpu_map: g.cpu_map,
        pidfile: g.pidfile,
        bufsize: g.bufsize.unwrap_or(DEFAULT_BUFSIZE),
        maxhdr: g.maxhdr.unwrap_or(DEFAULT_MAXHDR),
        rewrite_reserve: super::tune::rewrite_reserve(
            g.maxrewrite,
            g.bufsize.unwrap_or(DEFAULT_BUFSIZE),
        ),
        h2,
        driver: g.driver.unwrap_or(DriverChoice::Auto),
        logs: g.logs,
        log_tag: g.log_tag.unwrap_or_else(|| DEFAULT_LOG_TAG.to_string()),
        log_hostname: g
            .log_send_hostname
            .map(|name| name.unwrap_or_else(system_hostname)),
        spread_checks: g.spread_checks.unwrap_or(0),
        tls: g.tls,
        server_state: g.server_state,
        node: g.node,
        description: g.description,
        stats_sockets: g.stats_sockets,
        stats_timeout: g
            .stats_timeout
            .unwrap_or(std::time::Duration::from_secs(10)),
        stats_maxconn: g.stats_maxconn.unwrap_or(10),
        chroot: g.chroot,
        master_worker: g.master_worker,
        proc_vars: g.proc_vars,
    }
}

/// Frontends (frontend + listen) and backends (backend + listen) are separate namespaces.
fn check_names(proxies: &[ProxyDraft], diags: &mut Diags) {
    for (ns, pick) in [
        (
            "frontend",
            ProxyDraft::is_frontend as fn(&ProxyDraft) -> bool,
        ),
        ("backend", ProxyDraft::is_backend),
    ] {
        let mut seen: HashMap<&str, &ProxyDraft> = HashMap::new();
        for p in proxies.iter().filter(|p| pick(p)) {
            match seen.get(p.name.as_str()) {
                Some(first) => diags.error(
                    &p.loc,
                    format!(
                        "{} '{}' has the same name as {} '{}' at {}; {ns} names must be unique",
                        p.kind.name(),
                        p.name,
                        first.kind.name(),
                        first.name,
                        first.loc
                    ),
                ),
                None => {
                    seen.insert(&p.name, p);
                }
            }
        }
    }
}

fn build_backend(p: &ProxyDraft, global: &Global, diags: &mut Diags) -> Backend {
    let t = &p.timeouts;
    let missing: Vec<&str> = [("connect", t.connect), ("server", t.server)]
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() && p.kind == SectionKind::Backend {
        warn_timeouts(p, &missing, diags);
    }
    let mode = p.mode.unwrap_or(Mode::Tcp);
    super::check::validate(p, mode, diags);
    let mut acls = p.acls.clone();
    let rules = build_rules(p, &p.http_rules, &mut acls, diags);
    let use_server = build_use_server(p, mode, &mut acls, diags);
    if let (Mode::Tcp, Some(loc)) = (mode, &p.abortonclose) {
        if !p.failed.quiet("mode") {
            diags.error(
                loc,
                format!("'option abortonclose' is not supported yet in a mode tcp backend ('{}'): HAProxy aborts a queued connection whose client closed there, ringlb does not watch for it", p.name),
            );
        }
    }
    let mut servers = p.servers.clone();
    let sni_exprs = super::server_tls::finish_servers(&mut servers, &global.tls, diags);
    // A listen section's log settings are reported once, by its frontend.
    let mut quiet = Diags::default();
    let log_diags = if p.kind == SectionKind::Listen {
        &mut quiet
    } else {
        &mut *diags
    };
    let mut proxy = build_proxy(p, mode, acls, rules, global, log_diags);
    proxy.tcp = super::tcp_rules::build(p, &mut proxy.acls, mode, diags);
    let balance = p.balance.clone().unwrap_or(Balance::RoundRobin);
    let can_add = global
        .stats_sockets
        .iter()
        .any(|s| s.level == ApiLevel::Admin);
    Backend {
        proxy,
        dynamic_slots: if can_add && balance.is_dynamic() {
            super::model::DYNAMIC_SLOTS
        } else {
            0
        },
        balance,
        servers,
        use_server,
        sni_exprs,
        retries: p.retries.unwrap_or(DEFAULT_RETRIES),
        redispatch: p.redispatch,
        log_health_checks: p.log_health_checks,
        http_reuse: p.http_reuse.unwrap_or(HttpReuse::Safe),
        listen_frontend: p.kind == SectionKind::Listen,
        check: p.check.clone(),
        allbackups: p.allbackups,
        state_from: super::server_state::state_from(p, &global.server_state),
    }
}

/// `use-server` rules: each server named must be in the section ("did you mean" otherwise),
/// and its condition resolved into the backend's ACLs.
fn build_use_server(
    p: &ProxyDraft,
    mode: Mode,
    acls: &mut Vec<Acl>,
    diags: &mut Diags,
) -> Vec<UseServerRule> {
    let mut out = Vec::new();
    for r in &p.use_server {
        if mode == Mode::Tcp && !p.failed.quiet("mode") {
            diags.error(
                &r.loc,
                "'use-server' is not supported yet in a mode tcp backend (only in mode http)",
            );
            continue;
        }
        let server = p.servers.iter().position(|s| s.name == r.server);
        if server.is_none() {
            let hint = suggest::hint(&r.server, p.servers.iter().map(|s| s.name.as_str()));
            diags.error(
                &r.loc,
                format!(
                    "backend '{}': unable to find server '{}' referenced in a 'use-server' rule{hint}",
                    p.name, r.server
                ),
            );
        }
        let kw = format!("use-server {}", r.server);
        let cond = resolve_cond(&r.cond, acls, p, &r.loc, &kw, diags);
        if let (Some(i), Some(Some(cond))) = (server, cond) {
            out.push(UseServerRule {
                server: ServerId::new(i),
                cond,
                loc: r.loc.clone(),
            });
        }
    }
    out
}

fn warn_timeouts(p: &ProxyDraft, missing: &[&str], diags: &mut Diags) {
    let missing: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|m| !p.failed.quiet(&format!("timeout {m}")))
        .collect();
    if missing.is_empty() {
        return;
    }
    let list: Vec<String> = missing.iter().map(|m| format!("'timeout {m}'")).collect();
    diags.warn(
        &p.loc,
        format!(
            "missing timeouts for {} '{}': {} not set here or in defaults; connections could wait forever \
             (HAProxy warns too). Set them, e.g. 'timeout {} 30s'",
            p.kind.name(),
            p.name,
            list.join(", "),
            missing.first().copied().unwrap_or("client")
        ),
    );
}

struct Resolve<'a> {
    backends: &'a [(&'a ProxyDraft, Backend)],
    by_name: &'a HashMap<&'a str, BackendId>,
    proxies: &'a [ProxyDraft],
}

impl Resolve<'_> {
    /// A backend by name, with the mode check; errors name the rule's keyword.
    fn backend(
        &self,
        fe: &ProxyDraft,
        name: &str,
        kw: &str,
        loc: &Loc,
        diags: &mut Diags,
    ) -> Option<BackendId> {
        let Some(&id) = self.by_name.get(name) else {
            let names = self.backends.iter().map(|(p, _)| p.name.as_str());
            let hint = suggest::hint(name, names);
            let extra = if self
                .proxies
                .iter()
                .any(|p| p.name == name && p.kind == SectionKind::Frontend)
            {
                " ('".to_string()
                    + name
                    + "' is a frontend; routing needs a backend or listen section)"
            } else {
                String::new()
            };
            diags.error(loc, format!("{kw}: no such backend '{name}'{hint}{extra}"));
            return None;
        };
        let be_mode = self
            .backends
            .get(id.index())
            .map(|(_, b)| b.mode)
            .unwrap_or(Mode::Tcp);
        let fe_mode = fe.mode.unwrap_or(Mode::Tcp);
        let mode_failed = fe.failed.quiet("mode")
            || self
                .backends
                .get(id.index())
                .is_some_and(|(p, _)| p.failed.quiet("mode"));
        if fe_mode == Mode::Http && be_mode == Mode::Tcp && !mode_failed {
            diags.error(
                loc,
                format!(
                    "{kw}: {} '{}' is in mode http but backend '{name}' is in mode tcp; \
                     set 'mode http' in the backend (or in defaults), as HAProxy requires the same mode",
                    fe.kind.name(),
                    fe.name
                ),
            );
            return None;
        }
        Some(id)
    }
}

fn build_frontend(
    p: &ProxyDraft,
    global: &Global,
    ctx: &Resolve,
    diags: &mut Diags,
) -> Option<Frontend> {
    if p.binds.is_empty() {
        if p.kind != SectionKind::Frontend {
            // A listen section without bind is a backend only.
            return None;
        }
        if !p.failed.quiet("bind") {
            diags.error(
                &p.loc,
                format!(
                    "frontend '{}' has no 'bind' line; add one, e.g. 'bind *:80'",
                    p.name
                ),
            );
            return None;
        }
        // Its bind line failed (reported): go on, so that the rest of it is checked too.
    }
    let t = &p.timeouts;
    let mut missing = Vec::new();
    if t.client.is_none() {
        missing.push("client");
    }
    if p.kind == SectionKind::Listen {
        missing.extend(
            [("connect", t.connect), ("server", t.server)]
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| *n),
        );
    }
    if !missing.is_empty() {
        warn_timeouts(p, &missing, diags);
    }
    let mode = p.mode.unwrap_or(Mode::Tcp);
    let mut acls = p.acls.clone();
    let mut switching = Vec::new();
    for rule in &p.switching {
        let kw = format!("use_backend {}", rule.backend);
        let backend = ctx.backend(p, &rule.backend, "use_backend", &rule.loc, diags);
        let cond = match &rule.cond {
            Some(c) => resolve_cond(c, &mut acls, p, &rule.loc, &kw, diags),
            None => Some(None),
        };
        if let (Some(backend), Some(cond)) = (backend, cond) {
            if mode == Mode::Tcp && !p.failed.quiet("mode") {
                check_tcp_cond(p, cond.as_ref(), &acls, &rule.loc, &kw, diags);
            }
            switching.push(SwitchRule {
                backend,
                cond,
                loc: rule.loc.clone(),
            });
        }
    }
    let default_backend = match (&p.default_backend, p.kind) {
        (Some((name, loc)), _) => ctx.backend(p, name, "default_backend", loc, diags),
        (None, SectionKind::Listen) => ctx.by_name.get(p.name.as_str()).copied(),
        (None, _) if p.failed.quiet("default_backend") => None,
        (None, _) => {
            diags.warn(
                &p.loc,
                format!("frontend '{}' has no default_backend; requests that match no use_backend rule get a 503", p.name),
            );
            None
        }
    };
    if let (Mode::Tcp, Some(loc)) = (mode, &p.logasap) {
        if !p.failed.quiet("mode") {
            diags.error(
                loc,
                format!("'option logasap' is not supported yet in a mode tcp frontend ('{}'); in mode http it is", p.name),
            );
        }
    }
    let maxconn = p.maxconn.unwrap_or(global.maxconn).min(global.maxconn);
    // A listen section's rules are both its frontend's and its backend's; the proxy runs them
    // once when the listen routes to itself. Errors were reported by build_backend already.
    let rules = if p.kind == SectionKind::Listen {
        build_rules(p, &p.http_rules, &mut acls, &mut Diags::default())
    } else {
        build_rules(p, &p.http_rules, &mut acls, diags)
    };
    let mut proxy = build_proxy(p, mode, acls, rules, global, diags);
    let mut quiet = Diags::default();
    let tcp_diags = if p.kind == SectionKind::Listen {
        &mut quiet
    } else {
        &mut *diags
    };
    proxy.tcp = super::tcp_rules::build(p, &mut proxy.acls, mode, tcp_diags);
    Some(Frontend {
        proxy,
        binds: super::bind_tls::validate_binds(&p.binds, &global.tls, mode, diags),
        maxconn,
        switching,
        default_backend,
        buffer_request: p.buffer_request,
        logasap: p.logasap.is_some() && mode == Mode::Http,
        unique_id: p.unique_id_format.clone().map(|format| UniqueId {
            format,
            header: p.unique_id_header.clone(),
        }),
    })
}

/// The settings a frontend and a backend both carry, from the section (defaults applied).
/// `acls` and `rules` come built, because each side resolves its own conditions into them.
fn build_proxy(
    p: &ProxyDraft,
    mode: Mode,
    acls: Vec<Acl>,
    rules: HttpRules,
    global: &Global,
    diags: &mut Diags,
) -> Proxy {
    Proxy {
        log: super::log_resolve::proxy_log(p, mode, global, diags),
        name: p.name.clone(),
        loc: p.loc.clone(),
        mode,
        timeouts: p.timeouts,
        conn_mode: p.conn_mode.unwrap_or(HttpConnMode::KeepAlive),
        forwardfor: p.forwardfor.clone(),
        originalto: p.originalto.clone(),
        errorfiles: p.errorfiles.clone(),
        acls,
        rules,
        stats: p.stats.clone().map(Arc::new),
        monitor_uri: p.monitor_uri.clone(),
        tcp: Default::default(),
    }
}

/// Resolves ACL names; `None` after reporting an error (or meeting an ACL whose line failed),
/// `Some(None)` never (callers wrap).
pub(super) fn resolve_cond(
    c: &CondDraft,
    acls: &mut Vec<Acl>,
    p: &ProxyDraft,
    loc: &Loc,
    kw: &str,
    diags: &mut Diags,
) -> Option<Option<Condition>> {
    let mut ok = true;
    let mut any_of = Vec::new();
    for group in &c.any_of {
        let mut terms = Vec::new();
        for t in group {
            let id = match &t.acl {
                AclRef::Anon(id) => Some(*id),
                AclRef::Named(name) => resolve_name(name, acls, p, loc, kw, diags),
            };
            match id {
                Some(acl) => terms.push(CondTerm {
                    negate: t.negate,
                    acl,
                }),
                None => ok = false,
            }
        }
        any_of.push(terms);
    }
    ok.then_some(Some(Condition {
        unless: c.unless,
        any_of,
    }))
}

fn resolve_name(
    name: &str,
    acls: &mut Vec<Acl>,
    p: &ProxyDraft,
    loc: &Loc,
    kw: &str,
    diags: &mut Diags,
) -> Option<AclId> {
    if let Some(id) = acls.iter().position(|a| a.name == name) {
        if let Some(decl) = p.acl_locs.get(id) {
            if decl.file == loc.file && decl.line > loc.line {
                diags.warn(
                    loc,
                    format!(
                        "{kw}: ACL '{name}' is declared after its use (line {}); HAProxy refuses this, move the 'acl' line above",
                        decl.line
                    ),
                );
            }
        }
        return Some(id);
    }
    if let Some(acl) = cond::predefined(name) {
        acls.push(acl);
        return Some(acls.len() - 1);
    }
    if cond::UNSUPPORTED_PREDEFINED.contains(&name) {
        diags.error(
            loc,
            format!("{kw}: predefined ACL '{name}' is not supported by ringlb yet"),
        );
        return None;
    }
    if p.failed.acls.contains(name) {
        // Its `acl` line failed and was reported: the rule is dropped without a second message.
        return None;
    }
    let names = acls
        .iter()
        .map(|a| a.name.as_str())
        .filter(|n| !n.is_empty());
    let hint = suggest::hint(name, names);
    let fix = if hint.is_empty() {
        format!("; declare it first, e.g. 'acl {name} path_beg /x'")
    } else {
        hint
    };
    diags.error(
        loc,
        format!(
            "{}: no such ACL '{name}'{fix}",
            kw.split(' ').next().unwrap_or(kw)
        ),
    );
    None
}

fn check_tcp_cond(
    p: &ProxyDraft,
    cond: Option<&Condition>,
    acls: &[Acl],
    loc: &Loc,
    kw: &str,
    diags: &mut Diags,
) {
    let Some(cond) = cond else { return };
    for term in cond.any_of.iter().flatten() {
        let Some(acl) = acls.get(term.acl) else {
            continue;
        };
        if let Some(m) = acl.matchers.iter().find(|m| cond::is_http_fetch(&m.expr)) {
            let what = if acl.name.is_empty() {
                "an anonymous ACL".to_string()
            } else {
                format!("ACL '{}'", acl.name)
            };
            diags.error(
                loc,
                format!(
                    "{kw}: {what} uses '{}', which needs 'mode http', but {} '{}' is in mode tcp; \
                     set 'mode http' or route on src / dst_port",
                    cond::fetch_name(&m.expr.fetch),
                    p.kind.name(),
                    p.name
                ),
            );
            return;
        }
    }
}

/// The same address bound twice (or a wildcard and a specific address on one port) would split
/// connections unpredictably between frontends. Port 0 (tests) never conflicts.
fn check_binds(frontends: &[Frontend], diags: &mut Diags) {
    let mut seen: Vec<(SocketAddr, &Loc, &str)> = Vec::new();
    for f in frontends {
        for b in &f.binds {
            if b.addr.port() == 0 {
                continue;
            }
            let clash = seen.iter().find(|(a, _, _)| {
                a.port() == b.addr.port()
                    && a.is_ipv4() == b.addr.is_ipv4()
                    && (a.ip() == b.addr.ip()
                        || a.ip().is_unspecified()
                        || b.addr.ip().is_unspecified())
            });
            if let Some((a, loc, name)) = clash {
                let how = if *a == b.addr {
                    "is already bound"
                } else {
                    "overlaps"
                };
                diags.error(
                    &b.loc,
                    format!(
                        "bind {} {how} at {loc} (frontend '{name}'); use another port or address",
                        b.addr
                    ),
                );
            } else {
                seen.push((b.addr, &b.loc, f.name.as_str()));
            }
        }
    }
}
