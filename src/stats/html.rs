//! The stats page, laid out like HAProxy 2.6's: the title and process block, the colour legend
//! and the links (`;up`, `;norefresh`, `;csv`, `;json`), then one table per proxy with
//! HAProxy's column groups (Queue, Session rate, Sessions, Bytes, Denied, Errors, Warnings,
//! Server) and its row colours by server state. Beyond HAProxy: under each proxy that has
//! them, the latency percentiles of its backend and servers, and at the end the per-core view.
//!
//! The page is self-contained (inline CSS, no script, no external link but HAProxy's own
//! site) and every text that comes from the configuration or a check is HTML-escaped.

use std::fmt::Write;

use super::fields::Field;
use super::snapshot::{
    CoreRow, Distribution, Latency, ProcessInfo, ProxyStats, Row, Snapshot, Value,
};
use super::state::{self, ServerState};
use super::RenderOptions;

pub fn render(snap: &Snapshot, opts: &RenderOptions) -> String {
    // About 3 kB a row with the tooltips.
    let mut out = String::with_capacity(16_384 + 3072 * snap.rows().count());
    write_head(&mut out, &snap.process, opts);
    write_title(&mut out, &snap.process, opts);
    write_process_block(&mut out, &snap.process, opts);
    for px in snap
        .proxies
        .iter()
        .filter(|px| state::proxy_in_scope(px, &opts.scope))
    {
        write_proxy(&mut out, px, opts);
    }
    write_cores(&mut out, &snap.cores);
    out.push_str("</body></html>\n");
    out
}

// ---- page head ---------------------------------------------------------------------------------

/// Row colours are HAProxy's, so that the page reads the same to its users.
const CSS: &str = "\
body { font-family: arial, helvetica, sans-serif; font-size: 12px; color: black; background: white; }
th, td { font-size: 10px; }
h1 { font-size: x-large; margin-bottom: 0.5em; }
h2 { font-size: x-large; font-weight: bold; font-style: italic; color: #6020a0; margin: 0; }
h3 { font-size: 16px; font-weight: bold; color: #b00040; background: #e8e8d0; margin: 0; }
li { margin-top: 0.25em; margin-right: 2em; }
.hr { margin-top: 0.25em; border-color: black; border-bottom-style: solid; }
.titre { background: #20D0D0; color: #000000; font-weight: bold; text-align: center; }
.frontend { background: #e8e8d0; }
.backend { background: #e8e8d0; }
.active_down { background: #ff9090; }
.active_going_up { background: #ffd020; }
.active_going_down { background: #ffffa0; }
.active_up { background: #c0ffc0; }
.active_nolb { background: #20a0ff; }
.active_draining { background: #20a0ff; }
.active_no_check { background: #e0e0e0; }
.backup_down { background: #ff9090; }
.backup_going_up { background: #ff80ff; }
.backup_going_down { background: #c060ff; }
.backup_up { background: #b0d0ff; }
.backup_nolb { background: #90b0e0; }
.backup_draining { background: #cc9900; }
.backup_no_check { background: #e0e0e0; }
.maintain { background: #c07820; }
.rls { letter-spacing: 0.2em; margin-right: 1px; }
a.px:link, a.px:visited { color: #ffff40; text-decoration: none; }
a.px:hover { color: #ffffff; text-decoration: none; }
a.lfsb:link, a.lfsb:visited { color: #000000; text-decoration: none; }
a.lfsb:hover { color: #505050; text-decoration: none; }
table.tbl { border-collapse: collapse; border-style: none; }
table.tbl td { text-align: right; border: 1px solid gray; padding: 2px 3px; white-space: nowrap; }
table.tbl td.ac { text-align: center; }
table.tbl th { border: 1px solid gray; }
table.tbl th.pxname { background: #b00040; color: #ffff40; font-weight: bold; border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap; }
table.tbl th.empty { border-style: none; empty-cells: hide; background: white; }
table.lgd { border-collapse: collapse; border-width: 1px; border-style: none none none solid; border-color: black; }
table.lgd td { border: 1px solid gray; padding: 2px; }
table.lgd td.noborder { border-style: none; padding: 2px; white-space: nowrap; }
u { text-decoration: none; border-bottom: 1px dotted black; }
div.tips { display: block; visibility: hidden; z-index: 2147483647; position: absolute; padding: 2px 4px 3px; background: #f0f060; color: #000000; border: 1px solid #7040c0; white-space: nowrap; font-size: 11px; border-radius: 3px; box-shadow: gray 2px 2px 3px; }
u:hover div.tips { visibility: visible; }
";

fn write_head(out: &mut String, p: &ProcessInfo, opts: &RenderOptions) {
    out.push_str("<!DOCTYPE html>\n<html><head><title>Statistics Report for ");
    escape(out, p.name);
    if let Some(node) = node(p, opts) {
        out.push_str(" on ");
        escape(out, node);
    }
    out.push_str("</title>\n<meta charset=\"utf-8\">\n<link rel=\"icon\" href=\"data:,\">\n");
    if let Some(r) = opts.refresh {
        let _ = writeln!(
            out,
            "<meta http-equiv=\"refresh\" content=\"{}\">",
            r.as_secs().max(1)
        );
    }
    out.push_str("<style type=\"text/css\">\n");
    out.push_str(CSS);
    out.push_str("</style></head>\n<body>");
}

/// The node's name: `stats show-node NAME`, else the global `node` (the host name).
fn node<'a>(p: &'a ProcessInfo, opts: &'a RenderOptions) -> Option<&'a str> {
    opts.show_node
        .as_deref()
        .map(|n| if n.is_empty() { p.node.as_str() } else { n })
        .filter(|n| !n.is_empty())
}

/// `stats show-desc TEXT`, else the global `description`.
fn description<'a>(p: &'a ProcessInfo, opts: &'a RenderOptions) -> Option<&'a str> {
    opts.show_desc
        .as_deref()
        .map(|d| {
            if d.is_empty() {
                p.description.as_str()
            } else {
                d
            }
        })
        .filter(|d| !d.is_empty())
}

fn write_title(out: &mut String, p: &ProcessInfo, opts: &RenderOptions) {
    out.push_str("<h1>");
    escape(out, p.name);
    if !opts.hide_version {
        out.push_str(" version ");
        escape(out, p.version);
        if !p.release_date.is_empty() {
            out.push_str(", released ");
            escape(out, p.release_date);
        }
    }
    let _ = write!(out, "</h1>\n<h2>Statistics Report for pid {}", p.pid);
    if let Some(node) = node(p, opts) {
        out.push_str(" on ");
        escape(out, node);
    }
    if let Some(desc) = description(p, opts) {
        out.push_str(": ");
        escape(out, desc);
    }
    out.push_str("</h2>\n<hr width=\"100%\" class=\"hr\">\n");
}

// ---- process block ----------------------------------------------------------------------------

fn write_process_block(out: &mut String, p: &ProcessInfo, opts: &RenderOptions) {
    out.push_str("<h3>&gt; General process information</h3>\n");
    out.push_str("<table border=0><tr><td align=\"left\" nowrap width=\"1%\">\n");
    let _ = write!(
        out,
        "<p><b>pid = </b> {} (process #1, nbthread = {})<br>\n<b>uptime = </b> {}<br>\n\
         <b>maxconn = </b> {}<br>\n\
         current conns = {}; conn rate = {}/sec; session rate = {}/sec<br>\n\
         total conns = {}; total requests = {}; max conn rate = {}/sec<br>\n\
         SSL conns = {} (total {}, failed handshakes {})<br>\n\
         log lines sent = {}; dropped = {}{}<br>\n</td>",
        p.pid,
        p.nbthread,
        uptime(p.uptime_s),
        p.maxconn,
        p.curr_conns,
        p.conn_rate,
        p.sess_rate,
        p.cum_conns,
        p.cum_req,
        p.max_conn_rate,
        p.ssl_conns_cur,
        p.ssl_cum_conns,
        p.ssl_failed_handshakes,
        p.log_lines_sent,
        p.log_lines_dropped,
        if p.stopping {
            "<br>\n<b>stopping</b>"
        } else {
            ""
        },
    );
    write_legend(out);
    write_links(out, opts);
    out.push_str("</tr></table>\n");
}

/// `0d 1h02m05s`, as HAProxy's process block.
fn uptime(s: u64) -> String {
    format!(
        "{}d {}h{:02}m{:02}s",
        s / 86_400,
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}

/// What each row colour means (HAProxy's legend).
fn write_legend(out: &mut String) {
    out.push_str(
        "<td align=\"center\" nowrap>\n<table class=\"lgd\"><tr>\n\
<td class=\"active_up\">&nbsp;</td><td class=\"noborder\">active UP </td>\
<td class=\"backup_up\">&nbsp;</td><td class=\"noborder\">backup UP </td></tr><tr>\n\
<td class=\"active_going_down\"></td><td class=\"noborder\">active UP, going down </td>\
<td class=\"backup_going_down\"></td><td class=\"noborder\">backup UP, going down </td></tr><tr>\n\
<td class=\"active_going_up\"></td><td class=\"noborder\">active DOWN, going up </td>\
<td class=\"backup_going_up\"></td><td class=\"noborder\">backup DOWN, going up </td></tr><tr>\n\
<td class=\"active_down\"></td><td class=\"noborder\">active or backup DOWN &nbsp;</td>\
<td class=\"active_no_check\"></td><td class=\"noborder\">not checked </td></tr><tr>\n\
<td class=\"maintain\"></td><td class=\"noborder\" colspan=\"3\">active or backup DOWN for maintenance (MAINT) &nbsp;</td></tr><tr>\n\
<td class=\"active_draining\"></td><td class=\"noborder\" colspan=\"3\">active or backup SOFT STOPPED for maintenance &nbsp;</td></tr></table>\n\
Note: \"NOLB\"/\"DRAIN\" = UP with load-balancing disabled.</td>",
    );
}

/// The display options: each link keeps the page's other `;` options.
fn write_links(out: &mut String, opts: &RenderOptions) {
    let up = if opts.up_only { ";up" } else { "" };
    let norefresh = if opts.refresh.is_some() {
        ""
    } else {
        ";norefresh"
    };
    out.push_str("<td align=\"left\" valign=\"top\" nowrap width=\"1%\"><b>Display option:</b><ul style=\"margin-top: 0.25em;\">\n");
    if opts.up_only {
        link(out, &opts.uri, norefresh, "Show all servers");
    } else {
        link(
            out,
            &opts.uri,
            &format!(";up{norefresh}"),
            "Hide 'DOWN' servers",
        );
    }
    if opts.refresh.is_some() {
        link(
            out,
            &opts.uri,
            &format!("{up};norefresh"),
            "Disable refresh",
        );
    }
    link(out, &opts.uri, &format!("{up}{norefresh}"), "Refresh now");
    link(out, &opts.uri, ";csv;norefresh", "CSV export");
    link(out, &opts.uri, ";json;norefresh", "JSON export");
    out.push_str("</ul></td>");
}

fn link(out: &mut String, uri: &str, options: &str, text: &str) {
    out.push_str("<li><a href=\"");
    escape(out, uri);
    escape(out, options);
    out.push_str("\">");
    escape(out, text);
    out.push_str("</a><br>\n");
}

// ---- a proxy's table --------------------------------------------------------------------------

fn write_proxy(out: &mut String, px: &ProxyStats, opts: &RenderOptions) {
    write_proxy_title(out, px, opts);
    out.push_str("<table class=\"tbl\" width=\"100%\">\n");
    write_column_heads(out);
    if let Some(fe) = &px.frontend {
        write_frontend_row(out, px, fe);
    }
    for sv in px
        .servers
        .iter()
        .filter(|s| state::server_shown(s, opts.up_only))
    {
        write_server_row(out, px, sv, opts);
    }
    if let Some(be) = &px.backend {
        write_backend_row(out, px, be);
    }
    out.push_str("</table>\n");
    write_latency_table(out, px, opts);
    out.push_str("<p>\n");
}

fn write_proxy_title(out: &mut String, px: &ProxyStats, opts: &RenderOptions) {
    let cap = match (&px.frontend, &px.backend) {
        (Some(_), Some(_)) => "proxy",
        (Some(_), None) => "frontend",
        _ => "backend",
    };
    out.push_str("<table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%\"><a name=\"");
    escape(out, &px.name);
    out.push_str("\"></a>");
    if opts.show_legends {
        out.push_str("<u>");
    }
    out.push_str("<a class=px href=\"#");
    escape(out, &px.name);
    out.push_str("\">");
    escape(out, &px.name);
    out.push_str("</a>");
    if opts.show_legends {
        let _ = write!(
            out,
            "<div class=tips>cap: {cap}, mode: {}, id: {}</div></u>",
            px.mode, px.iid
        );
    }
    out.push_str("</th><th class=\"empty\" width=\"90%\"></th></tr>\n</table>\n");
}

fn write_column_heads(out: &mut String) {
    out.push_str(
        "<tr class=\"titre\"><th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th>\
<th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th>\
<th colspan=2>Warnings</th><th colspan=9>Server</th></tr>\n<tr class=\"titre\">",
    );
    for h in [
        "Cur", "Max", "Limit", "Cur", "Max", "Limit", "Cur", "Max", "Limit", "Total", "LbTot",
        "Last", "In", "Out", "Req", "Resp", "Req", "Conn", "Resp", "Retr", "Redis", "Status",
        "LastChk", "Wght", "Act", "Bck", "Chk", "Dwn", "Dwntme", "Thrtle",
    ] {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr>\n");
}

/// The row's first cell: an anchor `proxy/name` and the name.
fn write_name_cell(out: &mut String, px: &ProxyStats, name: &str, tip: Option<&str>) {
    out.push_str("<td class=ac><a name=\"");
    escape(out, &px.name);
    out.push('/');
    escape(out, name);
    out.push_str("\"></a>");
    if tip.is_some() {
        out.push_str("<u>");
    }
    out.push_str("<a class=lfsb href=\"#");
    escape(out, &px.name);
    out.push('/');
    escape(out, name);
    out.push_str("\">");
    escape(out, name);
    out.push_str("</a>");
    if let Some(tip) = tip {
        out.push_str("<div class=tips>");
        escape(out, tip);
        out.push_str("</div></u>");
    }
    out.push_str("</td>");
}

fn write_frontend_row(out: &mut String, px: &ProxyStats, fe: &Row) {
    out.push_str("<tr class=\"frontend\">");
    write_name_cell(out, px, "Frontend", None);
    out.push_str("<td colspan=3></td>");
    cells(out, fe, &[Field::Rate, Field::RateMax]);
    limit_cell(out, fe, Field::RateLim);
    cells(out, fe, &[Field::Scur, Field::Smax]);
    limit_cell(out, fe, Field::Slim);
    write_totals_cell(out, fe);
    out.push_str("<td></td><td></td>");
    cells(
        out,
        fe,
        &[
            Field::Bin,
            Field::Bout,
            Field::Dreq,
            Field::Dresp,
            Field::Ereq,
        ],
    );
    out.push_str("<td></td><td></td><td></td><td></td><td class=ac>");
    escape(out, fe.text(Field::Status));
    out.push_str("</td><td class=ac colspan=8></td></tr>\n");
}

fn write_server_row(out: &mut String, px: &ProxyStats, sv: &Row, opts: &RenderOptions) {
    let _ = write!(out, "<tr class=\"{}\">", server_class(sv));
    let tip = opts
        .show_legends
        .then(|| format!("{}, id: {}", sv.text(Field::Addr), sv.num(Field::Sid)));
    write_name_cell(out, px, sv.svname(), tip.as_deref());
    cells(out, sv, &[Field::Qcur, Field::Qmax]);
    limit_cell(out, sv, Field::Qlimit);
    cells(out, sv, &[Field::Rate, Field::RateMax]);
    out.push_str("<td></td>");
    cells(out, sv, &[Field::Scur, Field::Smax]);
    limit_cell(out, sv, Field::Slim);
    write_totals_cell(out, sv);
    cells(out, sv, &[Field::Lbtot]);
    last_session_cell(out, sv);
    cells(out, sv, &[Field::Bin, Field::Bout]);
    out.push_str("<td></td>");
    cells(out, sv, &[Field::Dresp]);
    out.push_str("<td></td>");
    cells(
        out,
        sv,
        &[Field::Econ, Field::Eresp, Field::Wretr, Field::Wredis],
    );
    write_server_status_cell(out, sv);
    write_last_check_cell(out, sv);
    write_weight_cell(out, sv);
    let (act, bck) = if sv.backup { ("-", "Y") } else { ("Y", "-") };
    let _ = write!(out, "<td class=ac>{act}</td><td class=ac>{bck}</td>");
    write_check_counters(out, sv);
    match sv.get(Field::Throttle).as_u64() {
        Some(t) => {
            let _ = write!(out, "<td class=ac>{t} %</td>");
        }
        None => out.push_str("<td class=ac>-</td>"),
    }
    out.push_str("</tr>\n");
}

fn write_backend_row(out: &mut String, px: &ProxyStats, be: &Row) {
    out.push_str("<tr class=\"backend\">");
    let algo = be.text(Field::Algo);
    let tip = (!algo.is_empty()).then(|| format!("balancing: {algo}"));
    write_name_cell(out, px, "Backend", tip.as_deref());
    cells(out, be, &[Field::Qcur, Field::Qmax]);
    out.push_str("<td></td>");
    cells(out, be, &[Field::Rate, Field::RateMax]);
    out.push_str("<td></td>");
    cells(out, be, &[Field::Scur, Field::Smax, Field::Slim]);
    write_totals_cell(out, be);
    cells(out, be, &[Field::Lbtot]);
    last_session_cell(out, be);
    cells(
        out,
        be,
        &[Field::Bin, Field::Bout, Field::Dreq, Field::Dresp],
    );
    out.push_str("<td></td>");
    cells(
        out,
        be,
        &[Field::Econ, Field::Eresp, Field::Wretr, Field::Wredis],
    );
    out.push_str("<td class=ac>");
    since_and_status(out, be);
    out.push_str("</td><td class=ac>&nbsp;</td>");
    write_weight_cell(out, be);
    cells_centered(out, be, &[Field::Act, Field::Bck]);
    out.push_str("<td class=ac>&nbsp;</td>");
    cells(out, be, &[Field::Chkdown]);
    duration_cell(out, be, Field::Downtime);
    out.push_str("<td></td></tr>\n");
}

/// HAProxy's row colours: by state, active or backup; a weight-0 server is shown draining.
fn server_class(sv: &Row) -> &'static str {
    let Some(st) = ServerState::of(sv) else {
        return "active_no_check";
    };
    let zero_weight = sv.get(Field::Weight) == &Value::U64(0);
    let (active, backup) = match st {
        ServerState::Maint => return "maintain",
        ServerState::Drain => ("active_draining", "backup_draining"),
        ServerState::Up | ServerState::NoCheck if zero_weight => {
            ("active_draining", "backup_draining")
        }
        ServerState::Up => ("active_up", "backup_up"),
        ServerState::GoingDown => ("active_going_down", "backup_going_down"),
        ServerState::GoingUp => ("active_going_up", "backup_going_up"),
        ServerState::Down => ("active_down", "backup_down"),
        ServerState::Nolb => ("active_nolb", "backup_nolb"),
        ServerState::NoCheck => ("active_no_check", "backup_no_check"),
    };
    if sv.backup {
        backup
    } else {
        active
    }
}

/// Status with how long it has been so (`4s UP`), and the same in words with the last check's
/// description in a tooltip.
fn write_server_status_cell(out: &mut String, sv: &Row) {
    if ServerState::of(sv) == Some(ServerState::NoCheck) {
        out.push_str("<td class=ac><i>no check</i></td>");
        return;
    }
    out.push_str("<td class=ac><u>");
    since_and_status(out, sv);
    out.push_str("<div class=tips>");
    escape(out, sv.text(Field::Status));
    if let Some(s) = sv.get(Field::Lastchg).as_u64() {
        let _ = write!(out, " for {}", human_time(s));
    }
    let desc = check_description(sv);
    if !desc.is_empty() {
        out.push_str("; last check: ");
        escape(out, &desc);
    }
    out.push_str("</div></u></td>");
}

fn since_and_status(out: &mut String, row: &Row) {
    if let Some(s) = row.get(Field::Lastchg).as_u64() {
        out.push_str(&human_time(s));
        out.push(' ');
    }
    escape(out, row.text(Field::Status));
}

/// `Layer4 connection problem: Connection refused`: the check's description and its detail.
fn check_description(sv: &Row) -> String {
    let desc = sv.text(Field::CheckDesc);
    let detail = sv.text(Field::LastChk);
    match (desc.is_empty(), detail.is_empty()) {
        (_, true) => desc.to_string(),
        (true, false) => detail.to_string(),
        (false, false) => format!("{desc}: {detail}"),
    }
}

/// `L4OK in 0ms` (with the check's code when it has one), the description in a tooltip.
fn write_last_check_cell(out: &mut String, sv: &Row) {
    let status = sv.text(Field::CheckStatus);
    if status.is_empty() {
        out.push_str("<td></td>");
        return;
    }
    out.push_str("<td class=ac><u> ");
    escape(out, status);
    if let Some(code) = sv.get(Field::CheckCode).as_u64() {
        let _ = write!(out, "/{code}");
    }
    if let Some(ms) = sv.get(Field::CheckDuration).as_u64() {
        let _ = write!(out, " in {ms}ms");
    }
    out.push_str("<div class=tips>");
    escape(out, &check_description(sv));
    out.push_str("</div></u></td>");
}

/// `effective/configured` weight.
fn write_weight_cell(out: &mut String, row: &Row) {
    out.push_str("<td class=ac>");
    value(out, row.get(Field::Weight));
    out.push('/');
    value(out, row.get(Field::Uweight));
    out.push_str("</td>");
}

/// Chk, Dwn, Dwntme: one empty cell over the three for a server that is not checked.
fn write_check_counters(out: &mut String, sv: &Row) {
    if sv.get(Field::Chkfail) == &Value::Empty {
        out.push_str("<td colspan=3></td>");
        return;
    }
    out.push_str("<td><u>");
    value(out, sv.get(Field::Chkfail));
    out.push_str("<div class=tips>Failed Health Checks</div></u></td>");
    cells(out, sv, &[Field::Chkdown]);
    duration_cell(out, sv, Field::Downtime);
}

/// The session total, with the HTTP counters in a tooltip where the row has them.
fn write_totals_cell(out: &mut String, row: &Row) {
    if row.get(Field::ReqTot) == &Value::Empty {
        cells(out, row, &[Field::Stot]);
        return;
    }
    out.push_str("<td><u>");
    value(out, row.get(Field::Stot));
    out.push_str("<div class=tips><table class=det>");
    for (label, f) in [
        ("Cum. HTTP requests:", Field::ReqTot),
        ("- HTTP 1xx responses:", Field::Hrsp1xx),
        ("- HTTP 2xx responses:", Field::Hrsp2xx),
        ("- HTTP 3xx responses:", Field::Hrsp3xx),
        ("- HTTP 4xx responses:", Field::Hrsp4xx),
        ("- HTTP 5xx responses:", Field::Hrsp5xx),
        ("- other responses:", Field::HrspOther),
    ] {
        let _ = write!(out, "<tr><th>{label}</th><td>");
        value(out, row.get(f));
        out.push_str("</td></tr>");
    }
    out.push_str("</table></div></u></td>");
}

fn last_session_cell(out: &mut String, row: &Row) {
    match row.get(Field::Lastsess) {
        Value::U64(s) => {
            let _ = write!(out, "<td>{}</td>", human_time(*s));
        }
        Value::I64(s) if *s >= 0 => {
            let _ = write!(out, "<td>{}</td>", human_time(*s as u64));
        }
        Value::I64(_) => out.push_str("<td>never</td>"),
        _ => out.push_str("<td></td>"),
    }
}

fn duration_cell(out: &mut String, row: &Row, f: Field) {
    match row.get(f).as_u64() {
        Some(s) => {
            let _ = write!(out, "<td>{}</td>", human_time(s));
        }
        None => out.push_str("<td></td>"),
    }
}

/// A limit: `-` when there is none (HAProxy's 0 means unlimited).
fn limit_cell(out: &mut String, row: &Row, f: Field) {
    if matches!(row.get(f), Value::Empty | Value::U64(0)) {
        out.push_str("<td>-</td>");
    } else {
        cells(out, row, &[f]);
    }
}

fn cells(out: &mut String, row: &Row, fields: &[Field]) {
    for f in fields {
        out.push_str("<td>");
        value(out, row.get(*f));
        out.push_str("</td>");
    }
}

fn cells_centered(out: &mut String, row: &Row, fields: &[Field]) {
    for f in fields {
        out.push_str("<td class=ac>");
        value(out, row.get(*f));
        out.push_str("</td>");
    }
}

fn value(out: &mut String, v: &Value) {
    match v {
        Value::Empty => {}
        Value::U64(n) => big_number(out, *n),
        Value::I64(n) if *n >= 0 => big_number(out, *n as u64),
        Value::I64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Str(s) => escape(out, s),
    }
}

/// Digits grouped by three as HAProxy does it, with spaced spans rather than separators so
/// that a copied number stays a number: `<span class="rls">9</span>981`.
fn big_number(out: &mut String, n: u64) {
    let digits = n.to_string();
    let head = digits.len() % 3;
    let mut groups = Vec::with_capacity(7);
    if head > 0 {
        groups.push(&digits[..head]);
    }
    let mut i = head;
    while i < digits.len() {
        groups.push(&digits[i..i + 3]);
        i += 3;
    }
    let last = groups.len().saturating_sub(1);
    for (i, g) in groups.iter().enumerate() {
        if i < last {
            let _ = write!(out, "<span class=\"rls\">{g}</span>");
        } else {
            out.push_str(g);
        }
    }
}

/// HAProxy's short durations: `4s`, `1m20s`, `2h05m`, `3d4h`.
fn human_time(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
        _ => format!("{}d{}h", s / 86_400, (s / 3600) % 24),
    }
}

// ---- beyond HAProxy: latencies and cores ------------------------------------------------------

/// Percentiles of connect, first byte and total time for the proxy's servers and backend, when
/// it has any.
fn write_latency_table(out: &mut String, px: &ProxyStats, opts: &RenderOptions) {
    let servers = px
        .servers
        .iter()
        .filter(|s| state::server_shown(s, opts.up_only));
    let rows: Vec<(&str, &Latency)> = servers
        .filter_map(|s| s.latency.as_ref().map(|l| (s.svname(), l)))
        .chain(
            px.backend
                .iter()
                .filter_map(|b| b.latency.as_ref().map(|l| ("Backend", l))),
        )
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"tbl latency\">\n<tr class=\"titre\"><th rowspan=2>Latency (ms)</th>\
<th colspan=4>Connect</th><th colspan=4>First byte</th><th colspan=4>Total</th><th rowspan=2>Requests</th></tr>\n\
<tr class=\"titre\">",
    );
    for _ in 0..3 {
        out.push_str("<th>p50</th><th>p90</th><th>p99</th><th>p99.9</th>");
    }
    out.push_str("</tr>\n");
    for (name, lat) in rows {
        let class = if name == "Backend" {
            "backend"
        } else {
            "frontend"
        };
        let _ = write!(out, "<tr class=\"{class}\"><td class=ac>");
        escape(out, name);
        out.push_str("</td>");
        for d in [&lat.connect, &lat.first_byte, &lat.total] {
            write_percentiles(out, d);
        }
        out.push_str("<td>");
        big_number(out, lat.total.count);
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n");
}

fn write_percentiles(out: &mut String, d: &Distribution) {
    for us in [d.p50_us, d.p90_us, d.p99_us, d.p999_us] {
        out.push_str("<td>");
        if d.count == 0 {
            out.push('-');
        } else {
            out.push_str(&millis(us));
        }
        out.push_str("</td>");
    }
}

/// Microseconds as milliseconds with two or three significant digits (`0.045`, `1.25`,
/// `12.5`, `125`).
fn millis(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

/// Each core's connections, requests and bytes, and its share of the requests.
fn write_cores(out: &mut String, cores: &[CoreRow]) {
    if cores.is_empty() {
        return;
    }
    out.push_str(
        "<h3>&gt; Per-core view</h3>\n<table class=\"tbl cores\">\n<tr class=\"titre\"><th>Core</th><th>CPU</th>\
<th>Conns cur</th><th>Conns total</th><th>Requests</th><th>Share</th><th>Bytes in</th><th>Bytes out</th></tr>\n",
    );
    let total: u64 = cores.iter().map(|c| c.req_tot).sum();
    for c in cores {
        let _ = write!(
            out,
            "<tr class=\"frontend\"><td class=ac>{}</td><td class=ac>",
            c.core
        );
        match c.cpu {
            Some(cpu) => {
                let _ = write!(out, "{cpu}");
            }
            None => out.push('-'),
        }
        out.push_str("</td>");
        for n in [c.conns_cur, c.conns_tot, c.req_tot] {
            out.push_str("<td>");
            big_number(out, n);
            out.push_str("</td>");
        }
        if total == 0 {
            out.push_str("<td>-</td>");
        } else {
            let _ = write!(
                out,
                "<td>{:.1} %</td>",
                c.req_tot as f64 * 100.0 / total as f64
            );
        }
        for n in [c.bytes_in, c.bytes_out] {
            out.push_str("<td>");
            big_number(out, n);
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// HTML-escapes text for element content and quoted attributes.
fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::sample::sample_snapshot;
    use std::time::Duration;

    fn opts() -> RenderOptions {
        RenderOptions {
            uri: "/stats".into(),
            ..Default::default()
        }
    }

    /// The `<tr>` of the row anchored `proxy/name` (rows end in a line feed; the tooltips'
    /// own small tables do not).
    fn row_of<'a>(page: &'a str, anchor: &str) -> &'a str {
        let at = page.find(&format!("<a name=\"{anchor}\">")).unwrap_or(0);
        let start = page[..at].rfind("<tr class=").unwrap_or(0);
        let end = page[at..].find("</tr>\n").map_or(page.len(), |e| at + e);
        &page[start..end]
    }

    /// Columns a row spans, `colspan`s included, tooltips left out.
    fn columns(tr: &str) -> usize {
        let mut rest = tr;
        let mut visible = String::new();
        while let Some(i) = rest.find("<div class=tips>") {
            visible.push_str(&rest[..i]);
            rest = rest[i..]
                .split_once("</div>")
                .map_or("", |(_, after)| after);
        }
        visible.push_str(rest);
        visible
            .split("<td")
            .skip(1)
            .map(|td| {
                td.split('>')
                    .next()
                    .and_then(|attrs| attrs.split("colspan=").nth(1))
                    .and_then(|n| n.trim_matches('"').parse().ok())
                    .unwrap_or(1)
            })
            .sum()
    }

    #[test]
    fn html_title_process_block_and_links() {
        let o = RenderOptions {
            show_node: Some(String::new()),
            show_desc: Some("front <tier>".into()),
            refresh: Some(Duration::from_secs(10)),
            ..opts()
        };
        let page = render(&sample_snapshot(), &o);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<title>Statistics Report for ringlb on node1</title>"));
        assert!(page.contains("<h1>ringlb version 0.1.0, released 2026/12/01</h1>"));
        assert!(page.contains("Statistics Report for pid 4242 on node1: front &lt;tier&gt;</h2>"));
        assert!(page.contains("<b>uptime = </b> 0d 1h02m05s"));
        assert!(page.contains("nbthread = 2"));
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"10\">"));
        for href in [
            "/stats;up",
            "/stats;norefresh",
            "/stats;csv;norefresh",
            "/stats;json;norefresh",
        ] {
            assert!(page.contains(&format!("href=\"{href}\"")), "{href}");
        }
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "self-contained"
        );
        assert!(page.ends_with("</body></html>\n"));
    }

    #[test]
    fn html_hide_version_and_no_refresh() {
        let o = RenderOptions {
            hide_version: true,
            ..opts()
        };
        let page = render(&sample_snapshot(), &o);
        assert!(page.contains("<h1>ringlb</h1>"));
        assert!(!page.contains("0.1.0"));
        assert!(!page.contains("http-equiv=\"refresh\""));
        assert!(!page.contains("Disable refresh"));
    }

    #[test]
    fn html_rows_have_every_column_and_haproxys_colours() {
        let page = render(
            &sample_snapshot(),
            &RenderOptions {
                show_legends: true,
                ..opts()
            },
        );
        for (anchor, class) in [
            ("fe/Frontend", "frontend"),
            ("be/s1", "active_up"),
            ("be/s2", "active_no_check"),
            ("be/s3", "active_down"),
            ("be/s4", "maintain"),
            ("be/s5", "backup_up"),
            ("be/s6", "active_draining"),
            ("be/Backend", "backend"),
            ("stats/Frontend", "frontend"),
        ] {
            let tr = row_of(&page, anchor);
            assert!(
                tr.starts_with(&format!("<tr class=\"{class}\">")),
                "{anchor}: {tr}"
            );
            assert_eq!(columns(tr), 31, "{anchor}");
        }
        // No session rate limit on fe: "-", as HAProxy.
        assert!(row_of(&page, "fe/Frontend").contains("<td>-</td>"));
        let s3 = row_of(&page, "be/s3");
        assert!(s3.contains("s DOWN<div class=tips>DOWN for "), "{s3}");
        assert!(s3.contains(
            "L4CON in 0ms<div class=tips>Layer4 connection problem: Connection refused</div>"
        ));
        assert!(page.contains("cap: backend, mode: http, id: 4"));
    }

    #[test]
    fn html_up_only_hides_down_servers() {
        let page = render(
            &sample_snapshot(),
            &RenderOptions {
                up_only: true,
                ..opts()
            },
        );
        assert!(!page.contains("name=\"be/s3\""));
        assert!(!page.contains("name=\"be/s4\""));
        assert!(page.contains("name=\"be/s2\""));
        assert!(page.contains(">Show all servers<"));
    }

    #[test]
    fn html_scope_keeps_listed_proxies() {
        let page = render(
            &sample_snapshot(),
            &RenderOptions {
                scope: vec!["tcpb".into()],
                ..opts()
            },
        );
        assert!(page.contains("name=\"tcpb/t1\""));
        assert!(!page.contains("name=\"be/"));
    }

    #[test]
    fn html_escapes_names_and_texts() {
        let mut snap = sample_snapshot();
        snap.proxies[2].name = "<script>x</script>".into();
        if let Some(s1) = snap.proxies[2].servers.get_mut(0) {
            s1.set_str(Field::Svname, "s\"1&");
            s1.set_str(Field::CheckDesc, "<b>bold</b>");
        }
        let page = render(&snap, &opts());
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(page.contains("s&quot;1&amp;"));
        assert!(page.contains("&lt;b&gt;bold&lt;/b&gt;"));
        assert!(!page.contains("<b>bold"));
    }

    #[test]
    fn html_latency_percentiles_per_backend_and_server() {
        let page = render(&sample_snapshot(), &opts());
        let be = &page[page.find("name=\"be\"").unwrap_or(0)..];
        let table = &be[be.find("<table class=\"tbl latency\">").unwrap_or(0)..];
        let table = &table[..table.find("</table>").unwrap_or(table.len())];
        assert!(table.contains("<th>p50</th><th>p90</th><th>p99</th><th>p99.9</th>"));
        // s1 total: 0.3, 0.45, 0.8, 1.2 ms; connect a tenth of it.
        assert!(
            table.contains(
                "<td class=ac>s1</td><td>0.045</td><td>0.120</td><td>0.120</td><td>0.120</td>"
            ),
            "{table}"
        );
        assert!(
            table.contains("<td>0.450</td><td>1.20</td><td>1.20</td><td>1.20</td><td>4</td></tr>"),
            "{table}"
        );
        // s2's total p99: 900 ms; s3 never connected: dashes.
        assert!(table.contains("<td>900</td>"));
        assert!(table.contains("<td class=ac>s3</td><td>-</td><td>-</td>"));
        assert!(table.contains("<td class=ac>Backend</td>"));
        // tcpb has no latency: no table for it.
        let tcpb = &page[page.find("name=\"tcpb\"").unwrap_or(0)
            ..page.find("name=\"stats\"").unwrap_or(page.len())];
        assert!(!tcpb.contains("latency"));
    }

    #[test]
    fn html_per_core_table_with_shares() {
        let page = render(&sample_snapshot(), &opts());
        let cores = &page[page.find("Per-core view").unwrap_or(0)..];
        assert!(cores.contains("<tr class=\"frontend\"><td class=ac>0</td><td class=ac>0</td><td>2</td><td>20</td><td>30</td><td>75.0 %</td>"));
        assert!(cores.contains("<td>25.0 %</td><td><span class=\"rls\">1</span>500</td>"));
    }

    #[test]
    fn html_helpers() {
        assert_eq!(millis(45), "0.045");
        assert_eq!(millis(1250), "1.25");
        assert_eq!(millis(12_500), "12.5");
        assert_eq!(millis(125_000), "125");
        assert_eq!(human_time(4), "4s");
        assert_eq!(human_time(80), "1m20s");
        assert_eq!(human_time(7500), "2h05m");
        assert_eq!(human_time(90_000), "1d1h");
        let mut s = String::new();
        big_number(&mut s, 1_234_567);
        assert_eq!(
            s,
            "<span class=\"rls\">1</span><span class=\"rls\">234</span>567"
        );
    }
}
