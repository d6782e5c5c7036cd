//! `show info` and `show servers state`, in HAProxy 2.6's layouts.

use super::Api;
use crate::health::table::{live_servers, SlotUse};
use crate::stats::collect;
use crate::stats::snapshot::Snapshot;

fn uptime(s: u64) -> String {
    format!(
        "{}d {}h{:02}m{:02}s",
        s / 86400,
        s / 3600 % 24,
        s / 60 % 60,
        s % 60
    )
}

/// `show info [typed|json] [desc] [float]`: HAProxy's fields in its order; those ringlb has
/// no value for (memory pools, tasks, idle time) are left out rather than printed wrong.
pub fn show_info(s: &Snapshot, api: &Api, opts: &[&str]) -> String {
    let fields = info_fields(s, api);
    super::info_typed::render(&fields, super::info_typed::Format::parse(opts))
}

/// `show info`'s fields and values, in HAProxy's order.
fn info_fields(s: &Snapshot, api: &Api) -> Vec<(&'static str, String)> {
    let p = &s.process;
    let listeners: usize = api
        .model
        .frontends
        .iter()
        .map(|f| f.binds.len())
        .sum::<usize>()
        + api.model.global.stats_sockets.len();
    let bytes_out: u64 = s.cores.iter().map(|c| c.bytes_out).sum();
    let ulimit = crate::config::validate::nofile_limit();
    let fields: Vec<(&str, String)> = vec![
        ("Name", p.name.to_string()),
        ("Version", p.version.to_string()),
        ("Release_date", p.release_date.to_string()),
        ("Nbthread", p.nbthread.to_string()),
        ("Nbproc", "1".into()),
        ("Process_num", "1".into()),
        ("Pid", p.pid.to_string()),
        ("Uptime", uptime(p.uptime_s)),
        ("Uptime_sec", p.uptime_s.to_string()),
        ("Memmax_MB", "0".into()),
        ("Ulimit-n", ulimit.to_string()),
        ("Maxsock", ulimit.to_string()),
        ("Maxconn", p.maxconn.to_string()),
        ("Hard_maxconn", api.model.global.maxconn.to_string()),
        ("CurrConns", p.curr_conns.to_string()),
        ("CumConns", p.cum_conns.to_string()),
        ("CumReq", p.cum_req.to_string()),
        ("MaxSslConns", "0".into()),
        ("CurrSslConns", p.ssl_conns_cur.to_string()),
        ("CumSslConns", p.ssl_cum_conns.to_string()),
        ("Maxpipes", "0".into()),
        ("PipesUsed", "0".into()),
        ("PipesFree", "0".into()),
        ("ConnRate", p.conn_rate.to_string()),
        ("ConnRateLimit", "0".into()),
        ("MaxConnRate", p.max_conn_rate.to_string()),
        ("SessRate", p.sess_rate.to_string()),
        ("SessRateLimit", "0".into()),
        ("MaxSessRate", p.max_sess_rate.to_string()),
        ("CompressBpsIn", "0".into()),
        ("CompressBpsOut", "0".into()),
        ("CompressBpsRateLim", "0".into()),
        // hatop requires both. Tasks: ringlb's are one per connection and per listener (the
        // Jobs below); monoio does not expose a run queue, so it is 0.
        ("Tasks", (p.curr_conns + listeners as u64).to_string()),
        ("Run_queue", "0".into()),
        ("node", p.node.clone()),
        ("description", p.description.clone()),
        ("Stopping", u8::from(p.stopping).to_string()),
        ("Jobs", (p.curr_conns + listeners as u64).to_string()),
        ("Unstoppable Jobs", "0".into()),
        ("Listeners", listeners.to_string()),
        ("ActivePeers", "0".into()),
        ("ConnectedPeers", "0".into()),
        ("DroppedLogs", p.log_lines_dropped.to_string()),
        ("BusyPolling", "0".into()),
        ("FailedResolutions", "0".into()),
        ("TotalBytesOut", bytes_out.to_string()),
        ("TotalSplicdedBytesOut", "0".into()),
        ("CumRecvLogs", "0".into()),
        ("Build info", p.version.to_string()),
        ("Memmax_bytes", "0".into()),
        ("Start_time_sec", p.start_time.to_string()),
        ("Tainted", "0".into()),
    ];
    // HAProxy prints `description` only when one is set.
    fields
        .into_iter()
        .filter(|(k, v)| *k != "description" || !v.is_empty())
        .collect()
}

/// HAProxy's `srv_check_status` numbers (its healthcheck_status enum).
fn check_status_number(code: Option<&str>) -> u32 {
    match code {
        None => 1, // INI: not checked yet, or not checked at all
        Some("SOCKERR") => 5,
        Some("L4OK") => 6,
        Some("L4TOUT") => 7,
        Some("L4CON") => 8,
        Some("L6OK") => 9,
        Some("L6TOUT") => 10,
        Some("L6RSP") => 11,
        Some("L7TOUT") => 12,
        Some("L7RSP") => 13,
        Some("L7OK") => 15,
        Some("L7OKC") => 16,
        Some("L7STS") => 17,
        Some(_) => 0,
    }
}

const STATE_HEADER: &str = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n";

/// `show servers state [BACKEND]`: format 1, one line per server.
pub fn servers_state(api: &Api, only: Option<&str>) -> String {
    let m = &api.model;
    if let Some(b) = only {
        if !m.backends.iter().any(|x| x.name == b) {
            return "Can't find backend.\n".into();
        }
    }
    let slots = collect::proxy_slots(m);
    let checks = api.stats.checks.read();
    let now = std::time::Instant::now();
    let mut out = String::from(STATE_HEADER);
    for (bi, b) in m.backends.iter().enumerate() {
        if only.is_some_and(|o| o != b.name) {
            continue;
        }
        let be_id = slots
            .iter()
            .find(|p| p.backend == Some(bi))
            .map_or(0, |p| p.iid);
        for (si, s, st) in live_servers(b, checks.get(bi).map(Vec::as_slice)) {
            let up = collect::server_usable(s, st);
            let op_state = if up { 2 } else { 0 };
            let (maint, drain) = st.map_or((s.start.maint, s.start.drain), |c| (c.maint, c.drain));
            // HAProxy's srv_admin_state bits: forced maintenance, maintenance from the
            // configuration (`disabled`), forced drain.
            let admin = u8::from(maint) | u8::from(s.disabled) << 2 | u8::from(drain) << 3;
            let uweight = st.map_or(s.start.weight, |c| c.admin_weight);
            let since = st.map_or(0, |c| {
                now.saturating_duration_since(c.last_change).as_secs()
            });
            let (status, result, health, chk_state) = match st {
                Some(c) if c.checked => {
                    let result = match (c.status, c.up) {
                        (None, _) => 0,
                        (Some(_), _) if c.failed > 0 && !c.up => 2,
                        _ => 3,
                    };
                    // CONFIGURED (2), and ENABLED (4) unless `disable health`; PAUSED (8) in
                    // maintenance.
                    let state = (if c.check_enabled { 6 } else { 2 }) | u8::from(maint) << 3;
                    (check_status_number(c.status), result, c.health, state)
                }
                // An added server: health 0, its check (if any) configured, not enabled,
                // as HAProxy 2.6 shows a dynamic server before `enable health`.
                Some(c) if matches!(c.slot, SlotUse::Added(_)) => {
                    (1, 0, 0, if s.check.is_some() { 2 } else { 0 })
                }
                _ => (1, 0, s.check.map_or(2, |k| k.rise), u8::from(maint) << 3),
            };
            // Where the runtime API moved it, if it did.
            let addr = st.map_or(s.addr, |c| c.addr);
            out.push_str(&format!(
                "{be_id} {} {} {} {} {op_state} {admin} {} {} {since} {status} {result} {health} {chk_state} 0 0 0 - {} - {} {} {} - 0\n",
                b.name,
                si + 1,
                s.name,
                addr.ip(),
                uweight,
                s.weight,
                addr.port(),
                u8::from(s.traffic_tls().is_some()),
                st.and_then(|c| c.check_port).unwrap_or(0),
                st.and_then(|c| c.check_addr)
                    .map_or_else(|| "-".to_string(), |a| a.to_string()),
            ));
        }
    }
    out
}
