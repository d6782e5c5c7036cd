//! Builders filled by the keyword parse functions, one per section, before `validate` turns them
//! into the model. A proxy starts as a copy of the defaults section it inherits from.

use super::cond::CondDraft;
use super::expr::ParseEnv;
use super::model::*;
use super::model_rules::{Action, Password, Phase};
use super::syntax::SectionKind;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What failed to parse in a section (or in the defaults it inherits from), so that the checks
/// that depend on it stay quiet: one mistake, one message. A line that failed leaves its
/// keyword here, and a misspelt line the keyword it most likely meant (`default_backnd` leaves
/// `default_backend`), so "no default_backend" is not said about a line already reported.
#[derive(Clone, Debug, Default)]
pub struct Failed {
    /// Keywords as the table names them: `timeout client`, `option httpchk`, `bind`.
    pub keywords: BTreeSet<String>,
    /// Names given on `acl` lines that failed: their uses are not "no such ACL".
    pub acls: BTreeSet<String>,
    /// The `from` defaults section does not exist: nothing inherited is known.
    pub base: bool,
}

impl Failed {
    /// Should a check about `keyword` (its absence, or what it would have set) stay quiet?
    pub fn quiet(&self, keyword: &str) -> bool {
        self.base || self.keywords.contains(keyword)
    }
}

#[derive(Clone, Debug, Default)]
pub struct GlobalDraft {
    pub failed: Failed,
    pub daemon: bool,
    pub user: Option<String>,
    pub group: Option<String>,
    pub maxconn: Option<(u32, Loc)>,
    pub nbthread: Option<usize>,
    pub cpu_map: Vec<CpuMap>,
    pub pidfile: Option<PathBuf>,
    pub bufsize: Option<usize>,
    pub maxhdr: Option<usize>,
    /// `tune.maxrewrite`, as written.
    pub maxrewrite: Option<usize>,
    /// `tune.h2.header-table-size`, `initial-window-size`, `max-concurrent-streams`,
    /// `max-frame-size`, as written.
    pub h2_header_table_size: Option<u32>,
    pub h2_initial_window_size: Option<u32>,
    pub h2_max_concurrent_streams: Option<u32>,
    pub h2_max_frame_size: Option<u32>,
    pub driver: Option<DriverChoice>,
    pub logs: Vec<LogTarget>,
    pub log_tag: Option<String>,
    /// `log-send-hostname`: `Some(None)` for the system's host name.
    pub log_send_hostname: Option<Option<String>>,
    pub spread_checks: Option<u8>,
    pub tls: super::model_tls::GlobalTls,
    /// `node NAME`, `description TEXT`: shown on the stats page.
    pub node: Option<String>,
    pub description: Option<String>,
    /// `stats socket|timeout|maxconn` (the runtime API), `chroot`.
    pub stats_sockets: Vec<super::model::StatsSocket>,
    pub stats_timeout: Option<Duration>,
    pub stats_maxconn: Option<u32>,
    pub chroot: Option<PathBuf>,
    /// `set-var` / `set-var-fmt`: proc variables, in the order set.
    pub proc_vars: crate::rules::Vars,
    /// `master-worker [no-exit-on-failure]`.
    pub master_worker: Option<super::model::MasterWorker>,
    pub server_state: super::model::ServerStateFiles,
}

/// Server settings shared by `server` and `default-server` lines.
#[derive(Clone, Debug)]
pub struct ServerOpts {
    pub weight: u32,
    pub maxconn: Option<u32>,
    pub backup: bool,
    pub disabled: bool,
    pub check: bool,
    pub inter: Option<Duration>,
    pub fastinter: Option<Duration>,
    pub downinter: Option<Duration>,
    pub rise: u32,
    pub fall: u32,
    pub port: Option<u16>,
    pub addr: Option<IpAddr>,
    pub slowstart: Option<Duration>,
    /// `observe layer4|layer7` (true for layer7).
    pub observe: Option<bool>,
    pub error_limit: Option<u32>,
    pub on_error: Option<OnError>,
    pub pool: ServerPool,
    /// The TLS options (`ssl`, `verify`, `sni` ...); kept only when `ssl` or `check-ssl` is set.
    pub tls: super::model_tls::ServerTls,
    /// `check-ssl` / `no-check-ssl`; `None`: checks use TLS when the traffic does and no
    /// `port`/`addr` sends them elsewhere (HAProxy's rule).
    pub check_ssl: Option<bool>,
    /// `send-proxy` and `send-proxy-v2` (both may be set: v2 wins, as in HAProxy).
    pub send_proxy_v1: bool,
    pub send_proxy_v2: bool,
    /// `check-send-proxy`.
    pub check_send_proxy: bool,
}

impl Default for ServerOpts {
    fn default() -> Self {
        let d = ServerCheck::default();
        ServerOpts {
            weight: 1,
            maxconn: None,
            backup: false,
            disabled: false,
            check: false,
            inter: None,
            fastinter: None,
            downinter: None,
            rise: d.rise,
            fall: d.fall,
            port: None,
            addr: None,
            slowstart: None,
            observe: None,
            error_limit: None,
            on_error: None,
            pool: ServerPool::default(),
            tls: Default::default(),
            check_ssl: None,
            send_proxy_v1: false,
            send_proxy_v2: false,
            check_send_proxy: false,
        }
    }
}

impl ServerOpts {
    /// The TLS settings when the traffic or the checks use TLS.
    pub fn tls(&self) -> Option<super::model_tls::ServerTls> {
        let checks = self.check().is_some_and(|c| c.ssl);
        (self.tls.ssl || checks).then(|| self.tls.clone())
    }

    /// The PROXY protocol version the traffic is sent, if any.
    pub fn send_proxy(&self) -> Option<ProxyVersion> {
        if self.send_proxy_v2 {
            Some(ProxyVersion::V2)
        } else {
            self.send_proxy_v1.then_some(ProxyVersion::V1)
        }
    }

    /// HAProxy's rule: checks send a PROXY header with `check-send-proxy` (in the traffic's
    /// version, v1 when it has none), or when the traffic does and no `port`/`addr` sends the
    /// checks elsewhere.
    fn check_send_proxy(&self) -> Option<ProxyVersion> {
        let traffic = self.send_proxy();
        if self.check_send_proxy {
            return Some(traffic.unwrap_or(ProxyVersion::V1));
        }
        traffic.filter(|_| self.port.is_none() && self.addr.is_none())
    }

    pub fn check(&self) -> Option<ServerCheck> {
        if !self.check {
            return None;
        }
        let inter = self.inter.unwrap_or(ServerCheck::default().inter);
        Some(ServerCheck {
            inter,
            fastinter: self.fastinter.unwrap_or(inter),
            downinter: self.downinter.unwrap_or(inter),
            rise: self.rise,
            fall: self.fall,
            port: self.port,
            addr: self.addr,
            ssl: self
                .check_ssl
                .unwrap_or(self.tls.ssl && self.port.is_none() && self.addr.is_none()),
            send_proxy: self.check_send_proxy(),
            observe: self.observe.map(|layer7| Observe {
                layer7,
                error_limit: self.error_limit.unwrap_or(DEFAULT_ERROR_LIMIT),
                on_error: self.on_error.unwrap_or(OnError::FailCheck),
            }),
        })
    }
}

/// A proxy's `log` line: a target, or `log global` (expanded by `validate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEntry {
    Global,
    Target(LogTarget),
}

/// The line layout an option or `log-format` chose.
#[derive(Clone, Debug)]
pub enum LogLineDraft {
    Http,
    HttpClf,
    Tcp,
    Custom(super::model_log::LogLine),
}

/// A proxy's log settings as read (inherited from defaults like the rest).
#[derive(Clone, Debug, Default)]
pub struct LogDraft {
    pub entries: Vec<LogEntry>,
    pub tag: Option<String>,
    /// The last of `option httplog`, `option tcplog`, `log-format`, and where it was.
    pub line: Option<(LogLineDraft, Loc)>,
    pub dontlognull: bool,
    pub separate_errors: bool,
    pub dontlog_normal: bool,
    pub captures: super::model_log::Captures,
}

#[derive(Clone, Debug)]
pub struct RuleDraft {
    pub backend: String,
    pub cond: Option<CondDraft>,
    pub loc: Loc,
}

/// A `tcp-request` / `tcp-response` rule line, its ACLs unresolved.
#[derive(Clone, Debug)]
pub struct TcpRuleDraft {
    pub set: super::model_tcp::TcpSet,
    pub action: super::model_tcp::TcpAction,
    pub cond: Option<CondDraft>,
    pub loc: Loc,
}

/// A `use-server NAME if|unless COND` line, the server's name and ACLs unresolved.
#[derive(Clone, Debug)]
pub struct UseServerDraft {
    pub server: String,
    pub cond: CondDraft,
    pub loc: Loc,
}

/// An `http-request` / `http-response` / `http-after-response` line, its ACLs unresolved.
#[derive(Clone, Debug)]
pub struct HttpRuleDraft {
    pub phase: Phase,
    pub action: Action,
    pub cond: Option<CondDraft>,
    pub loc: Loc,
}

/// A `userlist` section being read.
#[derive(Debug, Default)]
pub struct UserlistDraft {
    pub name: String,
    pub users: Vec<UserDraft>,
    /// `group NAME [users a,b]`: the group and the users it lists.
    pub groups: Vec<(String, Vec<String>, Loc)>,
    /// Names on `user` and `group` lines that failed: references to them stay quiet.
    pub failed_users: Vec<String>,
    pub failed_groups: Vec<String>,
}

#[derive(Debug)]
pub struct UserDraft {
    pub name: String,
    pub password: Password,
    pub groups: Vec<String>,
    pub loc: Loc,
}

/// A defaults, frontend, backend or listen section being read.
#[derive(Clone, Debug)]
pub struct ProxyDraft {
    pub kind: SectionKind,
    pub name: String,
    pub loc: Loc,
    pub mode: Option<Mode>,
    pub binds: Vec<Bind>,
    pub maxconn: Option<u32>,
    pub timeouts: Timeouts,
    pub conn_mode: Option<HttpConnMode>,
    pub forwardfor: Option<ForwardFor>,
    pub originalto: Option<ForwardFor>,
    pub errorfiles: ErrorFiles,
    pub acls: Vec<Acl>,
    pub http_rules: Vec<HttpRuleDraft>,
    /// `tcp-request` / `tcp-response` rules, their ACLs unresolved, and the inspect delays.
    pub tcp_rules: Vec<TcpRuleDraft>,
    pub tcp_inspect_delay: Option<Duration>,
    pub tcp_response_delay: Option<Duration>,
    /// The userlists of the configuration, for `http_auth` and `auth`.
    pub env: ParseEnv,
    /// Where each entry of `acls` was (first) declared.
    pub acl_locs: Vec<Loc>,
    pub switching: Vec<RuleDraft>,
    /// `option http-buffer-request` (frontends).
    pub buffer_request: bool,
    /// `option logasap`, where it was set (frontends).
    pub logasap: Option<Loc>,
    /// `option abortonclose`, where it was set (`no option abortonclose` clears it).
    pub abortonclose: Option<Loc>,
    /// `use-server` lines, in order (backends).
    pub use_server: Vec<UseServerDraft>,
    pub default_backend: Option<(String, Loc)>,
    pub balance: Option<Balance>,
    pub servers: Vec<Server>,
    pub default_server: ServerOpts,
    pub retries: Option<u32>,
    pub redispatch: bool,
    pub log_health_checks: bool,
    pub http_reuse: Option<HttpReuse>,
    pub check: BackendCheck,
    pub allbackups: bool,
    /// `load-server-state-from-file`, `server-state-file-name` (config/server_state.rs).
    pub state_load: Option<super::server_state::StateLoad>,
    pub state_file_name: Option<String>,
    pub log: LogDraft,
    /// `stats ...` lines (the stats page), `monitor-uri`.
    pub stats: Option<super::model::StatsPage>,
    pub monitor_uri: Option<String>,
    /// `unique-id-format`, `unique-id-header` (frontends).
    pub unique_id_format: Option<super::model_rules::LogFormat>,
    pub unique_id_header: Option<String>,
    pub failed: Failed,
}

impl ProxyDraft {
    pub fn new(kind: SectionKind, name: String, loc: Loc) -> Self {
        ProxyDraft {
            kind,
            name,
            loc,
            mode: None,
            binds: Vec::new(),
            maxconn: None,
            timeouts: Timeouts::default(),
            conn_mode: None,
            forwardfor: None,
            originalto: None,
            errorfiles: ErrorFiles::new(),
            acls: Vec::new(),
            http_rules: Vec::new(),
            tcp_rules: Vec::new(),
            tcp_inspect_delay: None,
            tcp_response_delay: None,
            env: ParseEnv::default(),
            acl_locs: Vec::new(),
            switching: Vec::new(),
            use_server: Vec::new(),
            buffer_request: false,
            logasap: None,
            abortonclose: None,
            default_backend: None,
            balance: None,
            servers: Vec::new(),
            default_server: ServerOpts::default(),
            retries: None,
            redispatch: false,
            log_health_checks: false,
            http_reuse: None,
            check: BackendCheck::default(),
            allbackups: false,
            state_load: None,
            state_file_name: None,
            log: LogDraft::default(),
            stats: None,
            monitor_uri: None,
            unique_id_format: None,
            unique_id_header: None,
            failed: Failed::default(),
        }
    }

    /// A new proxy inheriting what a defaults section may set.
    pub fn inherit(defaults: &ProxyDraft, kind: SectionKind, name: String, loc: Loc) -> Self {
        let mut p = defaults.clone();
        p.kind = kind;
        p.name = name;
        p.loc = loc;
        p
    }

    pub fn is_frontend(&self) -> bool {
        matches!(self.kind, SectionKind::Frontend | SectionKind::Listen)
    }

    pub fn is_backend(&self) -> bool {
        matches!(self.kind, SectionKind::Backend | SectionKind::Listen)
    }
}
