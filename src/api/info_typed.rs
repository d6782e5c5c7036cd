//! `show info typed|json [desc] [float]`: HAProxy 2.6's typed forms of `show info`, each
//! field with its number in HAProxy's list, its tags (origin, nature, scope), its type and
//! (`desc`) its description, all from HAProxy's own table (`show info typed desc`).

use std::fmt::Write;

/// How the fields are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Format {
    pub kind: Kind,
    pub desc: bool,
    pub float: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    #[default]
    Plain,
    Typed,
    Json,
}

impl Format {
    /// HAProxy's reading of the words: the last of `typed` / `json` wins, others are ignored.
    pub fn parse(opts: &[&str]) -> Format {
        let mut f = Format::default();
        for o in opts {
            match *o {
                "typed" => f.kind = Kind::Typed,
                "json" => f.kind = Kind::Json,
                "desc" => f.desc = true,
                "float" => f.float = true,
                _ => {}
            }
        }
        f
    }
}

/// One of HAProxy's info fields.
struct Info {
    name: &'static str,
    pos: u32,
    /// Origin, nature, scope: one letter each (HAProxy's FO_/FN_/FS_ letters).
    tags: &'static str,
    ty: &'static str,
    desc: &'static str,
}

/// The fields that `float` turns into floating point numbers (HAProxy 2.6).
const FLOATS: &[&str] = &[
    "Uptime_sec",
    "ConnRate",
    "SessRate",
    "SslRate",
    "SslFrontendKeyRate",
    "SslFrontendSessionReuse_pct",
    "SslBackendKeyRate",
    "CompressBpsIn",
    "CompressBpsOut",
    "Start_time_sec",
];

/// The fields, written as `fmt` asks; `fields` are (name, value) in HAProxy's order.
pub fn render(fields: &[(&str, String)], fmt: Format) -> String {
    let known = || fields.iter().filter_map(|(k, v)| Some((info(k)?, v)));
    let mut out = String::new();
    match fmt.kind {
        Kind::Plain => {
            for (k, v) in fields {
                let _ = write!(out, "{k}: {v}");
                if let (true, Some(i)) = (fmt.desc, info(k)) {
                    let _ = write!(out, ":\"{}\"", i.desc);
                }
                out.push('\n');
            }
        }
        Kind::Typed => {
            for (i, v) in known() {
                let ty = type_of(i, fmt.float);
                let _ = write!(out, "{}.{}.1:{}:{ty}:{v}", i.pos, i.name, i.tags);
                if fmt.desc {
                    let _ = write!(out, ":\"{}\"", i.desc);
                }
                out.push('\n');
            }
        }
        Kind::Json => {
            let items: Vec<String> = known().map(|(i, v)| json_item(i, v, fmt.float)).collect();
            let _ = writeln!(out, "[{}]", items.join(","));
        }
    }
    out
}

fn info(name: &str) -> Option<&'static Info> {
    FIELDS.iter().find(|i| i.name == name)
}

fn type_of(i: &Info, float: bool) -> &'static str {
    if float && FLOATS.contains(&i.name) {
        "flt"
    } else {
        i.ty
    }
}

fn json_item(i: &Info, v: &str, float: bool) -> String {
    let ty = type_of(i, float);
    let value = if ty == "str" {
        format!("\"{}\"", json_escape(v))
    } else {
        v.to_string()
    };
    let [o, n, s] = tag_names(i.tags);
    format!(
        "{{\"field\":{{\"pos\":{},\"name\":\"{}\"}},\"processNum\":1,\"tags\":{{\"origin\":\"{o}\",\"nature\":\"{n}\",\"scope\":\"{s}\"}},\"value\":{{\"type\":\"{ty}\",\"value\":{value}}}}}",
        i.pos,
        json_escape(i.name)
    )
}

/// HAProxy's names of the tag letters (stats.h: FO_*, FN_*, FS_*).
fn tag_names(tags: &str) -> [&'static str; 3] {
    let mut c = tags.chars();
    let origin = match c.next() {
        Some('M') => "Metric",
        Some('S') => "Status",
        Some('K') => "Key",
        Some('C') => "Config",
        _ => "Product",
    };
    let nature = match c.next() {
        Some('G') => "Gauge",
        Some('L') => "Limit",
        Some('m') => "Min",
        Some('M') => "Max",
        Some('R') => "Rate",
        Some('C') => "Counter",
        Some('D') => "Duration",
        Some('A') => "Age",
        Some('T') => "Time",
        Some('N') => "Name",
        Some('a') => "Avg",
        _ => "Output",
    };
    let scope = match c.next() {
        Some('S') => "Service",
        Some('s') => "System",
        Some('C') => "Cluster",
        _ => "Process",
    };
    [origin, nature, scope]
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// HAProxy 2.6's info fields (`show info typed desc`), in its order.
const FIELDS: &[Info] = &[
    Info { name: "Name", pos: 0, tags: "POS", ty: "str", desc: "Product name" },
    Info { name: "Version", pos: 1, tags: "POS", ty: "str", desc: "Product version" },
    Info { name: "Release_date", pos: 2, tags: "POS", ty: "str", desc: "Date of latest source code update" },
    Info { name: "Nbthread", pos: 3, tags: "CGS", ty: "u32", desc: "Number of started threads (global.nbthread)" },
    Info { name: "Nbproc", pos: 4, tags: "CGS", ty: "u32", desc: "Number of started worker processes (historical, always 1)" },
    Info { name: "Process_num", pos: 5, tags: "KGP", ty: "u32", desc: "Relative worker process number (1)" },
    Info { name: "Pid", pos: 6, tags: "SGP", ty: "u32", desc: "This worker process identifier for the system" },
    Info { name: "Uptime", pos: 7, tags: "MDP", ty: "str", desc: "How long ago this worker process was started (days+hours+minutes+seconds)" },
    Info { name: "Uptime_sec", pos: 8, tags: "MDP", ty: "u32", desc: "How long ago this worker process was started (seconds)" },
    Info { name: "Memmax_MB", pos: 9, tags: "CLP", ty: "u32", desc: "Worker process's hard limit on memory usage in MB (-m on command line)" },
    Info { name: "PoolAlloc_MB", pos: 10, tags: "MGP", ty: "u32", desc: "Amount of memory allocated in pools (in MB)" },
    Info { name: "PoolUsed_MB", pos: 11, tags: "MGP", ty: "u32", desc: "Amount of pool memory currently used (in MB)" },
    Info { name: "PoolFailed", pos: 12, tags: "MCP", ty: "u32", desc: "Number of failed pool allocations since this worker was started" },
    Info { name: "Ulimit-n", pos: 13, tags: "CLP", ty: "u32", desc: "Hard limit on the number of per-process file descriptors" },
    Info { name: "Maxsock", pos: 14, tags: "CLP", ty: "u32", desc: "Hard limit on the number of per-process sockets" },
    Info { name: "Maxconn", pos: 15, tags: "CLP", ty: "u32", desc: "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)" },
    Info { name: "Hard_maxconn", pos: 16, tags: "CLP", ty: "u32", desc: "Hard limit on the number of per-process connections (imposed by Memmax_MB or Ulimit-n)" },
    Info { name: "CurrConns", pos: 17, tags: "MGP", ty: "u32", desc: "Current number of connections on this worker process" },
    Info { name: "CumConns", pos: 18, tags: "MCP", ty: "u32", desc: "Total number of connections on this worker process since started" },
    Info { name: "CumReq", pos: 19, tags: "MCP", ty: "u32", desc: "Total number of requests on this worker process since started" },
    Info { name: "MaxSslConns", pos: 20, tags: "MMP", ty: "u32", desc: "Hard limit on the number of per-process SSL endpoints (front+back), 0=unlimited" },
    Info { name: "CurrSslConns", pos: 21, tags: "MGP", ty: "u32", desc: "Current number of SSL endpoints on this worker process (front+back)" },
    Info { name: "CumSslConns", pos: 22, tags: "MCP", ty: "u32", desc: "Total number of SSL endpoints on this worker process since started (front+back)" },
    Info { name: "Maxpipes", pos: 23, tags: "CLP", ty: "u32", desc: "Hard limit on the number of pipes for splicing, 0=unlimited" },
    Info { name: "PipesUsed", pos: 24, tags: "MGP", ty: "u32", desc: "Current number of pipes in use in this worker process" },
    Info { name: "PipesFree", pos: 25, tags: "MGP", ty: "u32", desc: "Current number of allocated and available pipes in this worker process" },
    Info { name: "ConnRate", pos: 26, tags: "MRP", ty: "u32", desc: "Number of front connections created on this worker process over the last second" },
    Info { name: "ConnRateLimit", pos: 27, tags: "CLP", ty: "u32", desc: "Hard limit for ConnRate (global.maxconnrate)" },
    Info { name: "MaxConnRate", pos: 28, tags: "MMP", ty: "u32", desc: "Highest ConnRate reached on this worker process since started (in connections per second)" },
    Info { name: "SessRate", pos: 29, tags: "MRP", ty: "u32", desc: "Number of sessions created on this worker process over the last second" },
    Info { name: "SessRateLimit", pos: 30, tags: "CLP", ty: "u32", desc: "Hard limit for SessRate (global.maxsessrate)" },
    Info { name: "MaxSessRate", pos: 31, tags: "MRP", ty: "u32", desc: "Highest SessRate reached on this worker process since started (in sessions per second)" },
    Info { name: "SslRate", pos: 32, tags: "MRP", ty: "u32", desc: "Number of SSL connections created on this worker process over the last second" },
    Info { name: "SslRateLimit", pos: 33, tags: "CLP", ty: "u32", desc: "Hard limit for SslRate (global.maxsslrate)" },
    Info { name: "MaxSslRate", pos: 34, tags: "MMP", ty: "u32", desc: "Highest SslRate reached on this worker process since started (in connections per second)" },
    Info { name: "SslFrontendKeyRate", pos: 35, tags: "MGP", ty: "u32", desc: "Number of SSL keys created on frontends in this worker process over the last second" },
    Info { name: "SslFrontendMaxKeyRate", pos: 36, tags: "MMP", ty: "u32", desc: "Highest SslFrontendKeyRate reached on this worker process since started (in SSL keys per second)" },
    Info { name: "SslFrontendSessionReuse_pct", pos: 37, tags: "MGP", ty: "u32", desc: "Percent of frontend SSL connections which did not require a new key" },
    Info { name: "SslBackendKeyRate", pos: 38, tags: "MRP", ty: "u32", desc: "Number of SSL keys created on backends in this worker process over the last second" },
    Info { name: "SslBackendMaxKeyRate", pos: 39, tags: "MMP", ty: "u32", desc: "Highest SslBackendKeyRate reached on this worker process since started (in SSL keys per second)" },
    Info { name: "SslCacheLookups", pos: 40, tags: "MCP", ty: "u32", desc: "Total number of SSL session ID lookups in the SSL session cache on this worker since started" },
    Info { name: "SslCacheMisses", pos: 41, tags: "MCP", ty: "u32", desc: "Total number of SSL session ID lookups that didn't find a session in the SSL session cache on this worker since started" },
    Info { name: "CompressBpsIn", pos: 42, tags: "MRP", ty: "u32", desc: "Number of bytes submitted to the HTTP compressor in this worker process over the last second" },
    Info { name: "CompressBpsOut", pos: 43, tags: "MRP", ty: "u32", desc: "Number of bytes emitted by the HTTP compressor in this worker process over the last second" },
    Info { name: "CompressBpsRateLim", pos: 44, tags: "CLP", ty: "u32", desc: "Limit of CompressBpsOut beyond which HTTP compression is automatically disabled" },
    Info { name: "Tasks", pos: 47, tags: "MGP", ty: "u32", desc: "Total number of tasks in the current worker process (active + sleeping)" },
    Info { name: "Run_queue", pos: 48, tags: "MGP", ty: "u32", desc: "Total number of active tasks+tasklets in the current worker process" },
    Info { name: "Idle_pct", pos: 49, tags: "MaP", ty: "u32", desc: "Percentage of last second spent waiting in the current worker thread" },
    Info { name: "node", pos: 50, tags: "COS", ty: "str", desc: "Node name (global.node)" },
    Info { name: "description", pos: 51, tags: "COS", ty: "str", desc: "Node description (global.description)" },
    Info { name: "Stopping", pos: 52, tags: "MGP", ty: "u32", desc: "1 if the worker process is currently stopping, otherwise zero" },
    Info { name: "Jobs", pos: 53, tags: "MGP", ty: "u32", desc: "Current number of active jobs on the current worker process (frontend connections, master connections, listeners)" },
    Info { name: "Unstoppable Jobs", pos: 54, tags: "MGP", ty: "u32", desc: "Current number of unstoppable jobs on the current worker process (master connections)" },
    Info { name: "Listeners", pos: 55, tags: "MGP", ty: "u32", desc: "Current number of active listeners on the current worker process" },
    Info { name: "ActivePeers", pos: 56, tags: "MGP", ty: "u32", desc: "Current number of verified active peers connections on the current worker process" },
    Info { name: "ConnectedPeers", pos: 57, tags: "MGP", ty: "u32", desc: "Current number of peers having passed the connection step on the current worker process" },
    Info { name: "DroppedLogs", pos: 58, tags: "MGP", ty: "u32", desc: "Total number of dropped logs for current worker process since started" },
    Info { name: "BusyPolling", pos: 59, tags: "MGP", ty: "u32", desc: "1 if busy-polling is currently in use on the worker process, otherwise zero (config.busy-polling)" },
    Info { name: "FailedResolutions", pos: 60, tags: "MGP", ty: "u32", desc: "Total number of failed DNS resolutions in current worker process since started" },
    Info { name: "TotalBytesOut", pos: 61, tags: "MGP", ty: "u64", desc: "Total number of bytes emitted by current worker process since started" },
    Info { name: "TotalSplicdedBytesOut", pos: 62, tags: "MGP", ty: "u64", desc: "Total number of bytes emitted by current worker process through a kernel pipe since started" },
    Info { name: "BytesOutRate", pos: 63, tags: "MRP", ty: "u64", desc: "Number of bytes emitted by current worker process over the last second" },
    Info { name: "DebugCommandsIssued", pos: 64, tags: "MGP", ty: "u32", desc: "Number of debug commands issued on this process (anything > 0 is unsafe)" },
    Info { name: "CumRecvLogs", pos: 65, tags: "MCP", ty: "u32", desc: "Total number of log messages received by log-forwarding listeners on this worker process since started" },
    Info { name: "Build info", pos: 66, tags: "POS", ty: "str", desc: "Build info" },
    Info { name: "Memmax_bytes", pos: 67, tags: "CLP", ty: "u32", desc: "Worker process's hard limit on memory usage in byes (-m on command line)" },
    Info { name: "PoolAlloc_bytes", pos: 68, tags: "MGP", ty: "u64", desc: "Amount of memory allocated in pools (in bytes)" },
    Info { name: "PoolUsed_bytes", pos: 69, tags: "MGP", ty: "u64", desc: "Amount of pool memory currently used (in bytes)" },
    Info { name: "Start_time_sec", pos: 70, tags: "MDP", ty: "u32", desc: "Start time in seconds" },
    Info { name: "Tainted", pos: 71, tags: "SGP", ty: "str", desc: "Experimental features used" },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_and_json_as_haproxy() {
        let f = [("Name", "ringlb".to_string()), ("Nbthread", "2".into())];
        let typed = render(&f, Format::parse(&["typed"]));
        assert_eq!(typed, "0.Name.1:POS:str:ringlb\n3.Nbthread.1:CGS:u32:2\n");
        let json = render(&f[1..], Format::parse(&["typed", "json"]));
        assert_eq!(json, "[{\"field\":{\"pos\":3,\"name\":\"Nbthread\"},\"processNum\":1,\"tags\":{\"origin\":\"Config\",\"nature\":\"Gauge\",\"scope\":\"Service\"},\"value\":{\"type\":\"u32\",\"value\":2}}]\n");
        let plain = render(&f[..1], Format::parse(&["desc"]));
        assert_eq!(plain, "Name: ringlb:\"Product name\"\n");
    }
}
