//! `;csv` (and the CLI's `show stat`): HAProxy 2.6's format byte for byte: the `# ` header of
//! every column name, then one line per row (FRONTEND, servers, BACKEND of each proxy), every
//! line ending in a comma, empty cells left empty.

use std::fmt::Write;

use super::fields::Field;
use super::snapshot::{ProxyStats, Row, Snapshot, Value};
use super::state;
use super::RenderOptions;

pub fn render(snap: &Snapshot, opts: &RenderOptions) -> String {
    // A line is about 400 bytes with HAProxy's numbers.
    let mut out = String::with_capacity(512 * (1 + snap.rows().count()));
    write_header(&mut out);
    for px in snap
        .proxies
        .iter()
        .filter(|px| state::proxy_in_scope(px, &opts.scope))
    {
        write_proxy(&mut out, px, opts);
    }
    out
}

fn write_header(out: &mut String) {
    out.push_str("# ");
    for f in Field::ALL {
        out.push_str(f.name());
        out.push(',');
    }
    out.push('\n');
}

fn write_proxy(out: &mut String, px: &ProxyStats, opts: &RenderOptions) {
    if let Some(fe) = &px.frontend {
        write_row(out, fe, None);
    }
    for sv in px
        .servers
        .iter()
        .filter(|s| state::server_shown(s, opts.up_only))
    {
        write_row(out, sv, None);
    }
    if let Some(be) = &px.backend {
        // `;up` hides servers, so HAProxy says in the backend's status how many there are.
        let status = opts.up_only.then(|| state::backend_status_up_only(px, be));
        write_row(out, be, status.as_deref());
    }
}

/// One line; `status` replaces the row's own status column when given.
fn write_row(out: &mut String, row: &Row, status: Option<&str>) {
    for (f, v) in Field::ALL.iter().zip(row.values()) {
        match (f, status) {
            (Field::Status, Some(s)) => write_text(out, s),
            // The column between HAProxy's own fields and its modules' is always "-".
            (Field::Separator, _) => out.push('-'),
            _ => write_value(out, v),
        }
        out.push(',');
    }
    out.push('\n');
}

fn write_value(out: &mut String, v: &Value) {
    // Writing into a String cannot fail.
    let _ = match v {
        Value::Empty => Ok(()),
        Value::U64(n) => write!(out, "{n}"),
        Value::I64(n) => write!(out, "{n}"),
        Value::Str(s) => {
            write_text(out, s);
            Ok(())
        }
    };
}

/// HAProxy quotes a text only when it is ambiguous (it holds a comma or a quote), doubling the
/// quotes inside.
fn write_text(out: &mut String, s: &str) {
    if !s.contains([',', '"']) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::sample::{sample_snapshot, HAPROXY_STAT_CSV};

    /// HAProxy 2.6's header line, as `;csv` prints it (from its output, /tmp/hap/stats.csv).
    const HAPROXY_HEADER: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,";

    fn opts() -> RenderOptions {
        RenderOptions::default()
    }

    #[test]
    fn csv_header_is_haproxys_byte_for_byte() {
        let out = render(&sample_snapshot(), &opts());
        assert_eq!(out.lines().next(), Some(HAPROXY_HEADER));
    }

    #[test]
    fn csv_of_haproxys_numbers_is_haproxys_csv() {
        assert_eq!(render(&sample_snapshot(), &opts()), HAPROXY_STAT_CSV);
    }

    #[test]
    fn csv_lines_have_one_comma_per_column_and_end_in_newline() {
        let out = render(&sample_snapshot(), &opts());
        assert!(out.ends_with(",\n"));
        for line in out.lines() {
            assert_eq!(line.matches(',').count(), Field::ALL.len(), "{line}");
        }
    }

    #[test]
    fn csv_empty_cells_stay_empty() {
        let out = render(&sample_snapshot(), &opts());
        let s2 = out.lines().find(|l| l.starts_with("be,s2,")).unwrap_or("");
        let cells: Vec<&str> = s2.split(',').collect();
        // s2 is not checked: no check status, no chkfail, no check description.
        assert_eq!(cells[Field::CheckStatus as usize], "");
        assert_eq!(cells[Field::Chkfail as usize], "");
        assert_eq!(cells[Field::CheckDesc as usize], "");
        assert_eq!(cells[Field::Status as usize], "no check");
    }

    #[test]
    fn csv_quotes_texts_with_commas_or_quotes() {
        let mut snap = sample_snapshot();
        let s1 = &mut snap.proxies[2].servers[0];
        s1.set_str(Field::CheckDesc, "Layer7 wrong status, \"503\"");
        s1.set_str(Field::LastChk, "plain text");
        let out = render(&snap, &opts());
        assert!(out.contains(",\"Layer7 wrong status, \"\"503\"\"\","));
        assert!(out.contains(",plain text,"));
    }

    #[test]
    fn csv_up_only_hides_down_and_maint_servers_and_counts_them() {
        let out = render(
            &sample_snapshot(),
            &RenderOptions {
                up_only: true,
                ..opts()
            },
        );
        let names: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("be,"))
            .map(|l| l.split(',').nth(1).unwrap_or(""))
            .collect();
        // As HAProxy 2.6's ;up: DOWN s3 and MAINT s4 hidden, "no check" s2 kept.
        assert_eq!(names, ["s1", "s2", "s5", "s6", "BACKEND"]);
        assert!(out.contains(",UP (4/6),"));
        assert!(out.contains(",UP (1/1),"));
    }

    #[test]
    fn csv_scope_keeps_only_the_listed_proxies() {
        let scope = vec!["tcpb".to_string(), "stats".to_string()];
        let out = render(&sample_snapshot(), &RenderOptions { scope, ..opts() });
        let proxies: Vec<&str> = out
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap_or(""))
            .collect();
        assert_eq!(proxies, ["tcpb", "tcpb", "stats", "stats"]);
    }
}
