//! The validated configuration: plain, immutable data that every worker receives at start.
//!
//! Nothing here owns a socket, a timer or a counter; workers build those from this description
//! on their own core. Names are resolved to indexes (the typed ids of `ids`, `AclId`) by
//! `validate`, so the request path never looks a name up. What frontends and backends both
//! carry lives in one `Proxy` that each embeds; the rest is theirs alone.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use super::ids::{BackendId, FrontendId, ServerId};
pub use super::model_log::{LogTarget, ProxyLog};
pub use super::model_rules::{Expr, Fetch, HttpRules};

/// Where a directive came from, kept for messages printed after loading (e.g. at bind time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<str>,
    pub line: u32,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Which monoio driver the workers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverChoice {
    /// io_uring where the kernel allows it, the legacy epoll driver otherwise.
    Auto,
    IoUring,
    Legacy,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub global: Global,
    pub frontends: Vec<Frontend>,
    pub backends: Vec<Backend>,
}

impl Model {
    pub fn frontend(&self, id: FrontendId) -> Option<&Frontend> {
        self.frontends.get(id.index())
    }

    pub fn backend(&self, id: BackendId) -> Option<&Backend> {
        self.backends.get(id.index())
    }

    pub fn frontend_ids(&self) -> impl Iterator<Item = FrontendId> {
        FrontendId::all(self.frontends.len())
    }

    pub fn backend_ids(&self) -> impl Iterator<Item = BackendId> {
        BackendId::all(self.backends.len())
    }

    /// A server of a backend.
    pub fn server(&self, backend: BackendId, server: ServerId) -> Option<&Server> {
        self.backend(backend)?.server(server)
    }
}

#[derive(Clone, Debug)]
pub struct Global {
    pub daemon: bool,
    pub user: Option<String>,
    pub group: Option<String>,
    /// Process-wide connection limit (HAProxy's `maxconn` in global).
    pub maxconn: u32,
    /// Worker threads; `None` means one per CPU the process may use.
    pub nbthread: Option<usize>,
    /// `cpu-map`: thread number (1-based, as HAProxy) -> CPU ids it may run on.
    pub cpu_map: Vec<CpuMap>,
    pub pidfile: Option<PathBuf>,
    /// `tune.bufsize`: the largest request or response head ringlb accepts (HAProxy: 16384).
    pub bufsize: usize,
    /// `tune.http.maxhdr`: the most header lines in one message (HAProxy: 101).
    pub maxhdr: usize,
    /// `tune.maxrewrite`, readjusted as HAProxy does: a head must fit in `bufsize` minus this.
    pub rewrite_reserve: usize,
    /// `tune.h2.*`.
    pub h2: H2Tune,
    /// `ringlb.driver` (ringlb's own keyword); the RINGLB_DRIVER environment variable wins.
    pub driver: DriverChoice,
    /// `log` targets (where `log global` sends).
    pub logs: Vec<LogTarget>,
    /// `log-tag`: the syslog tag (HAProxy: the program's name; here `ringlb`).
    pub log_tag: String,
    /// `log-send-hostname [NAME]`: the host name in syslog headers, `None` when not sent.
    pub log_hostname: Option<String>,
    /// `spread-checks`: percent of random jitter on every check interval (0..=50).
    pub spread_checks: u8,
    /// `node`: the name the stats page shows (the host name when unset).
    pub node: Option<String>,
    /// `description`: the process's description on the stats page.
    pub description: Option<String>,
    /// `stats socket` lines: where the runtime API listens.
    pub stats_sockets: Vec<StatsSocket>,
    /// `stats timeout`: an idle runtime API connection is closed after this (HAProxy: 10s).
    pub stats_timeout: Duration,
    /// `stats maxconn`: runtime API connections at once (HAProxy: 10).
    pub stats_maxconn: u32,
    /// `chroot DIR`: entered once everything is bound and loaded, before dropping root.
    pub chroot: Option<PathBuf>,
    /// `ssl-default-bind-*`, `tune.ssl.*`, `ca-base`, `crt-base`: what TLS binds inherit.
    pub tls: super::model_tls::GlobalTls,
    /// `master-worker`: run as a master that supervises one worker (as `-W`); `None`
    /// when the line is absent.
    pub master_worker: Option<MasterWorker>,
    /// `set-var` / `set-var-fmt` in `global`: the proc variables every request starts with.
    pub proc_vars: crate::rules::Vars,
    /// `server-state-file`, `server-state-base`: where a previous process's server states are.
    pub server_state: ServerStateFiles,
}

/// The `master-worker` line's option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MasterWorker {
    /// `no-exit-on-failure`: a worker that dies leaves the master running (waiting for a
    /// reload) instead of stopping it with the worker's status.
    pub no_exit_on_failure: bool,
}

/// Global `server-state-file FILE` and `server-state-base DIR`, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStateFiles {
    pub file: Option<PathBuf>,
    pub base: Option<PathBuf>,
}

/// `load-server-state-from-file`: which file a backend's servers take their start state from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StateFrom {
    /// The global `server-state-file`.
    Global,
    /// Its own file: `server-state-file-name`, or the backend's name (under `server-state-base`).
    Local(PathBuf),
    #[default]
    None,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuMap {
    /// 1-based thread numbers this line applies to.
    pub threads: Vec<usize>,
    pub cpus: Vec<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Tcp,
    Http,
}

/// Timeouts as HAProxy names them; `None` means "not set" (HAProxy: wait forever, with a warning).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Option<Duration>,
    pub client: Option<Duration>,
    pub server: Option<Duration>,
    pub http_request: Option<Duration>,
    pub http_keep_alive: Option<Duration>,
    pub queue: Option<Duration>,
    pub tunnel: Option<Duration>,
    pub check: Option<Duration>,
    /// `timeout tarpit`: how long `http-request tarpit` holds a request (default: connect).
    pub tarpit: Option<Duration>,
}

/// How the HTTP connections on each side live (HAProxy's `option http-keep-alive`,
/// `option http-server-close`, `option httpclose`). Ordered: the stricter of the frontend's and
/// the backend's choice applies to a request, as in HAProxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HttpConnMode {
    KeepAlive,
    ServerClose,
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpReuse {
    Never,
    Safe,
    Aggressive,
    Always,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardFor {
    /// Lower-case header name, `x-forwarded-for` by default.
    pub header: String,
    pub except: Option<Cidr>,
    pub if_none: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// True when `ip` falls inside this network. IPv4-mapped IPv6 clients match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_match(net: &[u8], ip: &[u8], prefix: u8) -> bool {
    let full = (prefix / 8) as usize;
    let rest = prefix % 8;
    if net[..full] != ip[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (net[full] & mask) == (ip[full] & mask)
}

/// Per-status error responses: the raw bytes sent as they are (HAProxy's `errorfile` format:
/// a complete HTTP response, status line and headers included).
pub type ErrorFiles = HashMap<u16, Arc<[u8]>>;

#[derive(Clone, Debug)]
pub struct Bind {
    pub addr: SocketAddr,
    pub loc: Loc,
    /// `ssl ...`: the bind's TLS settings, paths resolved and global defaults merged.
    pub tls: Option<super::model_tls::BindTls>,
    /// `proto h1|h2`: the protocol forced on the bind's connections; `None`: by ALPN on a TLS
    /// bind (h2 when offered and chosen), HTTP/1 otherwise.
    pub proto: Option<BindProto>,
    /// `accept-proxy`: each connection opens with a PROXY protocol header (v1 or v2), whose
    /// addresses become the connection's.
    pub accept_proxy: bool,
}

/// A bind's `proto` (HAProxy's multiplexer names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindProto {
    H1,
    /// HTTP/2 with prior knowledge (cleartext h2c, or TLS without ALPN).
    H2,
}

/// `tune.h2.*`: what ringlb's HTTP/2 frontend announces (HAProxy 2.6's names and defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct H2Tune {
    /// `tune.h2.header-table-size` (SETTINGS_HEADER_TABLE_SIZE): 4096.
    pub header_table_size: u32,
    /// `tune.h2.initial-window-size`: 65535, per stream.
    pub initial_window_size: u32,
    /// `tune.h2.max-concurrent-streams`: 100; 0 in the config means no limit.
    pub max_concurrent_streams: u32,
    /// `tune.h2.max-frame-size`: the larger of 16384 and `tune.bufsize`, never above it.
    pub max_frame_size: u32,
}

pub type AclId = usize;

/// What frontends and backends both carry: HAProxy's "proxy" settings that may be written in
/// either section (and in `defaults`). A request's `Route` (serve/route.rs) combines the
/// frontend's and the backend's copies; nothing else should pick between them.
#[derive(Clone, Debug)]
pub struct Proxy {
    pub name: String,
    pub loc: Loc,
    pub mode: Mode,
    pub timeouts: Timeouts,
    pub conn_mode: HttpConnMode,
    pub forwardfor: Option<ForwardFor>,
    /// `option originalto`: the header carrying the address the client connected to.
    pub originalto: Option<ForwardFor>,
    pub errorfiles: ErrorFiles,
    /// Named and anonymous ACLs of this proxy; conditions refer to them by index.
    pub acls: Vec<Acl>,
    /// `http-request` (before `use_backend` in a frontend), `http-response`,
    /// `http-after-response`.
    pub rules: HttpRules,
    /// Where and what this proxy logs (`log`, `option httplog`, `capture` ...).
    pub log: ProxyLog,
    /// `stats enable|uri|auth|...`: this proxy serves the stats page.
    pub stats: Option<Arc<StatsPage>>,
    /// `monitor-uri`: requests for it are answered 200 by ringlb (frontends).
    pub monitor_uri: Option<String>,
    /// `tcp-request` / `tcp-response` rules and inspect delays.
    pub tcp: super::model_tcp::TcpRules,
}

/// One `stats socket` line of the global section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsSocket {
    pub addr: ApiAddr,
    /// `mode 660`: the unix socket's permissions.
    pub mode: Option<u32>,
    pub level: ApiLevel,
    /// `expose-fd listeners`: `_getsocks` hands the listening sockets to a new process (`-x`).
    pub expose_fd: bool,
    /// Not a `stats socket` line: the socket a master gives its worker (master-worker mode,
    /// `master::child`). HAProxy numbers no CLI proxy for that one.
    pub internal: bool,
    pub loc: Loc,
}

/// Where a runtime API socket listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiAddr {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

/// `level user|operator|admin`: what the socket's clients may do (HAProxy's default:
/// operator).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiLevel {
    User,
    Operator,
    Admin,
}

/// A proxy's stats page (`stats ...` lines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsPage {
    /// `stats uri`: requests whose URI starts with it get the page.
    pub uri: String,
    pub realm: String,
    /// `stats auth USER:PASSWORD` lines; none: no authentication.
    pub users: Vec<(String, String)>,
    pub refresh: Option<Duration>,
    pub hide_version: bool,
    pub show_legends: bool,
    /// `stats show-node [NAME]`: `Some("")` for the node's own name.
    pub show_node: Option<String>,
    pub show_desc: Option<String>,
    /// `stats scope`: only these proxies (all when empty).
    pub scope: Vec<String>,
}

/// A frontend: its shared proxy settings (reached through `Deref`, so `fe.timeouts` reads as
/// HAProxy's documentation speaks of "the frontend's timeouts") and what only a frontend has.
#[derive(Clone, Debug)]
pub struct Frontend {
    pub proxy: Proxy,
    pub binds: Vec<Bind>,
    /// Connection limit for this frontend across all workers.
    pub maxconn: u32,
    /// `use_backend` rules in order; the first whose condition holds wins.
    pub switching: Vec<SwitchRule>,
    pub default_backend: Option<BackendId>,
    /// `option http-buffer-request`: the body (as much as the buffer holds) is waited for
    /// before the `http-request` rules run.
    pub buffer_request: bool,
    /// `option logasap`: the log line goes out when the response head is sent.
    pub logasap: bool,
    /// `unique-id-format` (and `unique-id-header`): each request's ID.
    pub unique_id: Option<UniqueId>,
}

/// A frontend's request IDs: computed once per request, before its `http-request` rules.
#[derive(Clone, Debug)]
pub struct UniqueId {
    pub format: super::model_rules::LogFormat,
    /// `unique-id-header`: lower case; added to the request sent to the server.
    pub header: Option<String>,
}

impl std::ops::Deref for Frontend {
    type Target = Proxy;
    fn deref(&self) -> &Proxy {
        &self.proxy
    }
}

/// A `use-server` rule: the first whose condition holds and whose server is not down picks
/// the server, before the balance algorithm.
#[derive(Clone, Debug)]
pub struct UseServerRule {
    pub server: ServerId,
    pub cond: Condition,
    pub loc: Loc,
}

/// A `use_backend` rule.
#[derive(Clone, Debug)]
pub struct SwitchRule {
    pub backend: BackendId,
    pub cond: Option<Condition>,
    pub loc: Loc,
}

/// `if`/`unless` followed by terms: implicit AND inside a group, `||` between groups.
#[derive(Clone, Debug)]
pub struct Condition {
    pub unless: bool,
    pub any_of: Vec<Vec<CondTerm>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CondTerm {
    pub negate: bool,
    pub acl: AclId,
}

/// An ACL: every `acl NAME ...` line with the same name adds a matcher; any matcher matching
/// makes the ACL true (HAProxy ORs same-name lines). Anonymous `{ ... }` ACLs have an empty name.
#[derive(Clone, Debug)]
pub struct Acl {
    pub name: String,
    pub matchers: Vec<Matcher>,
}

#[derive(Clone, Debug)]
pub struct Matcher {
    /// The sample to test: a fetch and its converters.
    pub expr: Expr,
    pub method: MatchMethod,
    /// `-i`: compare ignoring ASCII case (patterns are stored lower-cased then).
    pub ignore_case: bool,
    pub patterns: Patterns,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchMethod {
    Str,
    Beg,
    End,
    Sub,
    Reg,
    Dom,
    Found,
    Ip,
    Int,
    /// `-m bool`: the sample is true (non-zero); no pattern.
    Bool,
    /// `-m len`: the length of the string against integer patterns.
    Len,
}

#[derive(Clone, Debug)]
pub enum Patterns {
    Strings(Vec<String>),
    Regexes(Vec<regex::Regex>),
    Nets(Vec<Cidr>),
    Ints(Vec<IntRange>),
    /// `-m found`: no pattern, true when the fetch yields anything.
    None,
}

/// An integer pattern: `80`, `1024:65535`, `:1023`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntRange {
    pub min: i64,
    pub max: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    StaticRr,
    LeastConn,
    First,
    Source,
    /// `balance uri [whole]`: hash of the path (or the whole URI with query).
    Uri {
        whole: bool,
    },
    /// `balance hdr(name)`: hash of the header value, lower-case name; round-robin when absent.
    Hdr(String),
    Random,
}

/// A backend: its shared proxy settings (through `Deref`, as for `Frontend`) and its servers
/// with how they are picked, retried, reused and checked.
#[derive(Clone, Debug)]
pub struct Backend {
    pub proxy: Proxy,
    pub balance: Balance,
    pub servers: Vec<Server>,
    /// `use-server` rules in order; their conditions refer to `proxy.acls`.
    pub use_server: Vec<UseServerRule>,
    /// Extra connection attempts after the first fails (HAProxy default 3).
    pub retries: u32,
    pub redispatch: bool,
    /// `option log-health-checks`.
    pub log_health_checks: bool,
    pub http_reuse: HttpReuse,
    /// Where the section was a `listen`: the frontend of the same name, whose rules are these
    /// (run once, not twice, when the listen routes to itself).
    pub listen_frontend: bool,
    /// How servers with `check` are probed (see `health::probe`).
    pub check: BackendCheck,
    /// `option allbackups`: when every active server is down, use all usable backups.
    pub allbackups: bool,
    /// Where its servers' states from before a reload are read (`load-server-state-from-file`).
    pub state_from: StateFrom,
    /// The distinct request-dependent `sni` expressions of its servers (`sni req.hdr(host)`),
    /// evaluated once per request (see `model_tls::ServerSni::Request`).
    pub sni_exprs: Vec<super::model_rules::Expr>,
    /// Server slots kept free after the configured ones for the runtime API's `add server`
    /// (every per-server table of every core is sized at start to `slot_count`): set where
    /// an admin-level stats socket exists and the balance algorithm allows it.
    pub dynamic_slots: usize,
}

/// Servers `add server` may add to one backend over the process's life (slots are not
/// reused after `del server`, so that no index ever names two servers).
pub const DYNAMIC_SLOTS: usize = 32;

impl Balance {
    /// HAProxy's dynamic algorithms, the ones that take servers added at run time
    /// (map-based hashing and static-rr do not).
    pub fn is_dynamic(&self) -> bool {
        matches!(
            self,
            Balance::RoundRobin | Balance::LeastConn | Balance::First | Balance::Random
        )
    }
}

impl Backend {
    pub fn server(&self, id: ServerId) -> Option<&Server> {
        self.servers.get(id.index())
    }

    /// Every server slot: the configured servers, then those `add server` may fill.
    pub fn slot_count(&self) -> usize {
        self.servers.len() + self.dynamic_slots
    }

    pub fn slot_ids(&self) -> impl Iterator<Item = ServerId> {
        ServerId::all(self.slot_count())
    }

    pub fn server_ids(&self) -> impl Iterator<Item = ServerId> {
        ServerId::all(self.servers.len())
    }
}

impl std::ops::Deref for Backend {
    type Target = Proxy;
    fn deref(&self) -> &Proxy {
        &self.proxy
    }
}

/// What a health check does; the last of `option httpchk` / `option tcp-check` wins, as in
/// HAProxy, and without either a check is a plain TCP connect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CheckKind {
    #[default]
    Connect,
    Http,
    TcpCheck,
}

#[derive(Clone, Debug, Default)]
pub struct BackendCheck {
    pub kind: CheckKind,
    /// `option httpchk [METHOD] [URI] [VERSION]`.
    pub http: Option<HttpCheck>,
    /// `http-check expect ...` lines: every one must hold (several tests on one line too, a
    /// ringlb extension HAProxy refuses).
    pub expect: Vec<Expect>,
    /// `http-check send ...`: overrides the request of `option httpchk`.
    pub send: HttpSend,
    /// `http-check connect [port N] [addr IP]`.
    pub connect: Option<CheckConnect>,
    /// `tcp-check connect|send|send-binary|expect` rules in order (used with `option tcp-check`).
    pub tcp_steps: Vec<TcpStep>,
    /// Where the first check rule was written, for warnings about unused rules.
    pub rules_loc: Option<Loc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpSend {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub version: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckConnect {
    pub port: Option<u16>,
    pub addr: Option<IpAddr>,
}

/// One test of `http-check expect` / `tcp-check expect`; `negate` is HAProxy's `!`.
#[derive(Clone, Debug)]
pub struct Expect {
    pub negate: bool,
    pub test: ExpectTest,
}

#[derive(Clone, Debug)]
pub enum ExpectTest {
    /// `status 200`, `status 200-299,304`: inclusive ranges.
    Status(Vec<(u16, u16)>),
    RStatus(regex::Regex),
    /// `string TEXT`: the body (tcp-check: the data received) contains TEXT.
    String(String),
    RString(regex::Regex),
    /// `binary HEX` (tcp-check).
    Binary(Vec<u8>),
    /// `hdr name NAME [value VALUE]`: a header is present (with a value among its comma-split
    /// values); `full` (`fhdr`) compares the whole value.
    Hdr {
        name: String,
        value: Option<String>,
        full: bool,
    },
}

#[derive(Clone, Debug)]
pub enum TcpStep {
    Connect(CheckConnect),
    Send(Vec<u8>),
    Expect(Expect),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCheck {
    pub method: String,
    pub uri: String,
    pub version: String,
}

#[derive(Clone, Debug)]
pub struct Server {
    pub name: String,
    pub loc: Loc,
    pub addr: SocketAddr,
    /// 0..=256, HAProxy's default 1.
    pub weight: u32,
    /// Concurrent requests this server takes across all workers; `None` is unlimited.
    pub maxconn: Option<u32>,
    pub backup: bool,
    pub disabled: bool,
    pub check: Option<ServerCheck>,
    /// `slowstart`: after coming back up, the weight ramps from 0 to full over this time.
    pub slowstart: Option<Duration>,
    /// `pool-purge-delay`, `pool-max-conn`, `pool-low-conn`: idle connections kept to it.
    pub pool: ServerPool,
    /// `ssl` and its options, or `check-ssl` alone (then only the checks use TLS).
    pub tls: Option<super::model_tls::ServerTls>,
    /// `send-proxy` / `send-proxy-v2`: a PROXY protocol header opens each connection to it.
    pub send_proxy: Option<ProxyVersion>,
    /// The state it starts in: its configuration's, or what a server state file carried over
    /// a reload (config/server_state.rs). Every thread starts its view of the server from it.
    pub start: ServerStart,
}

/// The PROXY protocol version a server is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyVersion {
    V1,
    V2,
}

/// A server's state at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerStart {
    /// In maintenance (`disabled`, or `set server ... state maint` before the reload).
    pub maint: bool,
    /// Draining: no new requests.
    pub drain: bool,
    /// The operator's weight (`set server ... weight`), the configured one by default.
    pub weight: u32,
    /// Checked and DOWN before the reload: it stays down until its checks reach `rise`.
    pub down: bool,
    /// Probes run (`disable health` before the reload pauses them).
    pub checks_enabled: bool,
}

impl ServerStart {
    /// The configuration's own start state.
    pub fn configured(disabled: bool, weight: u32) -> Self {
        ServerStart {
            maint: disabled,
            drain: false,
            weight,
            down: false,
            checks_enabled: true,
        }
    }

    /// The weight the cores use: 0 while draining.
    pub fn weight_in_effect(&self) -> u32 {
        if self.drain {
            0
        } else {
            self.weight
        }
    }
}

impl Server {
    /// What stands in for a slot kept for `add server` until a server fills it.
    pub fn placeholder() -> Self {
        Server {
            name: String::new(),
            loc: Loc {
                file: "runtime API".into(),
                line: 0,
            },
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            send_proxy: None,
            weight: 0,
            maxconn: None,
            backup: false,
            disabled: true,
            check: None,
            slowstart: None,
            pool: ServerPool::default(),
            tls: None,
            start: ServerStart::configured(true, 0),
        }
    }

    /// The TLS settings of the proxied traffic, when it is TLS.
    pub fn traffic_tls(&self) -> Option<&super::model_tls::ServerTls> {
        self.tls.as_ref().filter(|t| t.ssl)
    }
}

/// How many idle connections to a server are kept for reuse, and for how long (HAProxy's
/// `pool-*` server options; see worker/pool.rs for how the per-core pools apply them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerPool {
    /// Every `purge_delay`, half of the idle connections beyond the recent need are closed;
    /// zero keeps none.
    pub purge_delay: Duration,
    /// Idle connections to this server across all cores; `None` is unlimited (`-1`).
    pub max_conn: Option<u32>,
    /// Idle connections kept beyond the recent need, across all cores (shared out per core).
    pub low_conn: u32,
}

/// HAProxy's `pool-purge-delay` default.
pub const DEFAULT_POOL_PURGE_DELAY: Duration = Duration::from_secs(5);

impl Default for ServerPool {
    fn default() -> Self {
        ServerPool {
            purge_delay: DEFAULT_POOL_PURGE_DELAY,
            max_conn: None,
            low_conn: 0,
        }
    }
}

/// `observe layer4|layer7` with `error-limit` and `on-error`: live traffic counts against a
/// server's health (needs `check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observe {
    pub layer7: bool,
    /// Consecutive errors that trigger `on_error` (HAProxy's default 10).
    pub error_limit: u32,
    pub on_error: OnError,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    FastInter,
    FailCheck,
    SuddenDeath,
    MarkDown,
}

/// HAProxy's default `error-limit`.
pub const DEFAULT_ERROR_LIMIT: u32 = 10;

/// `check` and its parameters on a server line (or inherited from `default-server`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerCheck {
    pub inter: Duration,
    pub fastinter: Duration,
    pub downinter: Duration,
    pub rise: u32,
    pub fall: u32,
    pub port: Option<u16>,
    pub addr: Option<IpAddr>,
    /// Checks run over TLS (`check-ssl`, or `ssl` without `port`/`addr`), with the server's
    /// TLS settings.
    pub ssl: bool,
    /// Checks open with a PROXY header (`check-send-proxy`, or `send-proxy*` without
    /// `port`/`addr`): in v1 the check connection's own addresses, in v2 `LOCAL`, as
    /// HAProxy 2.6's checks send.
    pub send_proxy: Option<ProxyVersion>,
    pub observe: Option<Observe>,
}

impl Default for ServerCheck {
    /// HAProxy's defaults: inter 2s (fastinter and downinter follow inter), rise 2, fall 3.
    fn default() -> Self {
        let inter = Duration::from_secs(2);
        ServerCheck {
            inter,
            fastinter: inter,
            downinter: inter,
            rise: 2,
            fall: 3,
            port: None,
            addr: None,
            ssl: false,
            send_proxy: None,
            observe: None,
        }
    }
}

/// HAProxy's `tune.bufsize` default.
pub const DEFAULT_BUFSIZE: usize = 16384;
/// HAProxy's `tune.http.maxhdr` default.
pub const DEFAULT_MAXHDR: usize = 101;
/// HAProxy's default `retries`.
pub const DEFAULT_RETRIES: u32 = 3;
