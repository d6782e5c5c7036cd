//! Server states across reloads: `server-state-file`, `server-state-base` (global),
//! `load-server-state-from-file` (defaults, backend), `server-state-file-name` (backend).
//!
//! Before a reload the operator saves `show servers state` into the file; the new process
//! reads it once the configuration is built, before any thread starts, and writes what it
//! finds into each server's `start` state, from which the checker, the reports and every
//! core's balancer start. So the first request already sees a drained server drained.
//! HAProxy 2.6's rules (src/server_state.c), checked against it:
//! - servers are matched by backend and server name; lines for others are skipped silently
//!   (a server removed from the configuration is normal), ids are not compared, except that
//!   a backend's own file warns on another backend's name (and skips it) or id (still applied);
//! - the configuration wins where it changed: `disabled` added or removed since the dump
//!   (ADMIN_CMAINT differs) keeps the configuration's state, and a weight is taken only if
//!   the configured weight is the one the dump saw (srv_iweight);
//! - a checked server that was DOWN starts DOWN, with no check passed: it needs `rise` good
//!   checks, as after a failure. (An unchecked server's state is its admin state alone.)

use std::path::{Path, PathBuf};

use super::draft::{GlobalDraft, ProxyDraft};
use super::error::Diags;
use super::keywords::Cx;
use super::model::{Backend, Loc, Model, ServerStart, ServerStateFiles, StateFrom};
use super::state_file::{self, ReadError, StateLine, Values};
use super::state_file::{ADMIN_CMAINT, ADMIN_FDRAIN, ADMIN_FMAINT, OP_STOPPED};
use super::state_file::{CHECK_CONFIGURED, CHECK_ENABLED};

/// `load-server-state-from-file` as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateLoad {
    Global,
    Local,
    None,
}

pub fn file(g: &mut GlobalDraft, cx: &mut Cx) {
    g.server_state.file = cx.one("a file name").map(PathBuf::from);
}

pub fn base(g: &mut GlobalDraft, cx: &mut Cx) {
    g.server_state.base = cx.one("a directory").map(PathBuf::from);
}

pub fn load_from(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(a) = cx.one("'global', 'local' or 'none'") else {
        return;
    };
    p.state_load = match a {
        "global" => Some(StateLoad::Global),
        "local" => Some(StateLoad::Local),
        "none" => Some(StateLoad::None),
        other => {
            return cx.err(format!(
                "'load-server-state-from-file' expects 'global', 'local' or 'none', not '{other}'"
            ))
        }
    };
}

pub fn file_name(p: &mut ProxyDraft, cx: &mut Cx) {
    p.state_file_name = match cx.args {
        [] => None,
        [a] if a == "use-backend-name" => None,
        [a] => Some(a.clone()),
        _ => return cx.err("'server-state-file-name' takes at most one file name"),
    };
}

/// HAProxy's path rule: absolute as written, else under `server-state-base` when set.
fn under_base(base: &Option<PathBuf>, name: &Path) -> PathBuf {
    match base {
        Some(b) if name.is_relative() => b.join(name),
        _ => name.to_path_buf(),
    }
}

/// Which file a backend reads, once its section is complete.
pub fn state_from(p: &ProxyDraft, files: &ServerStateFiles) -> StateFrom {
    match p.state_load {
        Some(StateLoad::Global) => StateFrom::Global,
        Some(StateLoad::Local) => {
            let name = p.state_file_name.as_deref().unwrap_or(&p.name);
            StateFrom::Local(under_base(&files.base, Path::new(name)))
        }
        Some(StateLoad::None) | None => StateFrom::None,
    }
}

/// Reads the state files the backends ask for and sets their servers' start states; every
/// problem is a warning (HAProxy starts anyway, with the configuration's states).
pub fn apply(model: &mut Model, diags: &mut Diags) {
    let ids: Vec<u64> = {
        let slots = crate::stats::collect::proxy_slots(model);
        (0..model.backends.len())
            .map(|bi| {
                slots
                    .iter()
                    .find(|p| p.backend == Some(bi))
                    .map_or(0, |p| p.iid)
            })
            .collect()
    };
    let files = model.global.server_state.clone();
    let mut global: Option<Option<(PathBuf, Vec<StateLine>)>> = None;
    for (be, id) in model.backends.iter_mut().zip(ids) {
        match be.state_from.clone() {
            StateFrom::None => {}
            StateFrom::Global => {
                let loaded = global.get_or_insert_with(|| load_global(&files, &be.loc, diags));
                if let Some((path, lines)) = loaded {
                    let mine: Vec<&StateLine> =
                        lines.iter().filter(|l| l.be_name() == be.name).collect();
                    apply_backend(be, path, &mine, diags);
                }
            }
            StateFrom::Local(path) => {
                let Some(lines) = read(&path, Some(&be.name), diags) else {
                    continue;
                };
                let mine = local_lines(be, id, &path, &lines, diags);
                apply_backend(be, &path, &mine, diags);
            }
        }
    }
}

fn load_global(
    files: &ServerStateFiles,
    first: &Loc,
    diags: &mut Diags,
) -> Option<(PathBuf, Vec<StateLine>)> {
    let Some(f) = &files.file else {
        diags.warn(
            first,
            "'load-server-state-from-file global' is set but there is no global \
             'server-state-file'; servers start with their configured states",
        );
        return None;
    };
    let path = under_base(&files.base, f);
    let lines = read(&path, None, diags)?;
    Some((path, lines))
}

/// A warning about a whole file (line 0: no line to point at).
fn whole(path: &Path) -> Loc {
    Loc {
        file: path.display().to_string().into(),
        line: 0,
    }
}

fn at(path: &Path, line: u32) -> Loc {
    Loc {
        file: path.display().to_string().into(),
        line,
    }
}

/// Reads one file; `owner` names the backend whose own file it is (None: the global one).
fn read(path: &Path, owner: Option<&str>, diags: &mut Diags) -> Option<Vec<StateLine>> {
    let e = match state_file::read(path) {
        Ok(lines) => return Some(lines),
        Err(e) => e,
    };
    let whose = match owner {
        Some(b) => format!("Proxy '{b}': its server state file"),
        None => "the global server state file".to_string(),
    };
    let (loc, msg) = match e {
        ReadError::Open(e) => (whole(path), format!("can't read {whose}: {e}")),
        ReadError::Version => (
            at(path, 1),
            format!("can't get the version of {whose}: the first line must be '1', as 'show servers state' writes it"),
        ),
        ReadError::Corrupted(n) => (
            at(path, n),
            format!("{whose} is corrupted at this line (20 to 25 fields expected): no state from it was applied"),
        ),
    };
    diags.warn(&loc, msg);
    None
}

/// A backend's own file: lines of another backend are skipped, an id mismatch only warned.
fn local_lines<'a>(
    be: &Backend,
    id: u64,
    path: &Path,
    lines: &'a [StateLine],
    diags: &mut Diags,
) -> Vec<&'a StateLine> {
    let mut mine = Vec::new();
    for l in lines {
        if l.be_name() != be.name {
            diags.warn(&at(path, l.line), format!(
                "Proxy '{}': backend name mismatch: from server state file: '{}', from running config '{}'",
                be.name, l.be_name(), be.name
            ));
            continue;
        }
        if l.be_id() != id.to_string() {
            diags.warn(&at(path, l.line), format!(
                "Proxy '{}': backend ID mismatch: from server state file: '{}', from running config '{id}'",
                be.name, l.be_id()
            ));
        }
        mine.push(l);
    }
    mine
}

fn apply_backend(be: &mut Backend, path: &Path, lines: &[&StateLine], diags: &mut Diags) {
    for l in lines {
        let Some(si) = be.servers.iter().position(|s| s.name == l.srv_name()) else {
            continue;
        };
        let v = match l.values() {
            Ok(v) => v,
            Err(why) => {
                diags.warn(
                    &at(path, l.line),
                    format!(
                        "server-state application failed for server '{}/{}', {why}",
                        be.name,
                        l.srv_name()
                    ),
                );
                continue;
            }
        };
        let s = &be.servers[si];
        let was_usable = usable(&s.start);
        let checked = s.check.is_some() && !s.disabled;
        let (start, forced_drain) = next_start(s.disabled, s.weight, checked, v);
        be.servers[si].start = start;
        if forced_drain {
            let msg = format!(
                "Server {}/{} remains in forced drain mode.",
                be.name,
                l.srv_name()
            );
            diags.warn(&at(path, l.line), msg);
        }
        if was_usable && !usable(&start) {
            diags.warn(&at(path, l.line), down_line(be, si));
        }
    }
}

fn usable(s: &ServerStart) -> bool {
    !s.maint && !s.down && s.weight_in_effect() > 0
}

/// HAProxy's line for a server the file marks down.
fn down_line(be: &Backend, si: usize) -> String {
    let (mut active, mut backup) = (0, 0);
    for s in be.servers.iter().filter(|s| usable(&s.start)) {
        if s.backup {
            backup += 1;
        } else {
            active += 1;
        }
    }
    format!(
        "Server {}/{} is DOWN, changed from server-state after a reload. {active} active and \
         {backup} backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
        be.name, be.servers[si].name
    )
}

/// One server's start state from its line (HAProxy's srv_state_srv_update); the bool says
/// the line kept a forced drain.
fn next_start(disabled: bool, weight: u32, checked: bool, v: Values) -> (ServerStart, bool) {
    let mut st = ServerStart::configured(disabled, weight);
    let cmaint = v.admin & ADMIN_CMAINT != 0;
    let fmaint = v.admin & ADMIN_FMAINT != 0;
    // `disabled` added or removed since the dump: the configuration says. Otherwise the
    // operator's forced maintenance, on or off, carries over.
    if cmaint == disabled {
        st.maint = fmaint;
    }
    // A drain carries over unless it only came from a configured weight of 0 that is now
    // positive (HAProxy's rule: that operator meant to bring the server back).
    let mut forced_drain = false;
    if !st.maint && v.admin & ADMIN_FDRAIN != 0 && (v.iweight > 0 || weight == 0) {
        st.drain = true;
        forced_drain = true;
    }
    st.down = checked && v.op_state == OP_STOPPED;
    if v.check_state & CHECK_CONFIGURED != 0 && v.check_state & CHECK_ENABLED == 0 {
        st.checks_enabled = false;
    }
    // The configuration's weight wins when it changed since the dump.
    if v.iweight == weight {
        st.weight = v.uweight;
    }
    (st, forced_drain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(op_state: u8, admin: u8, uweight: u32, iweight: u32) -> Values {
        Values {
            op_state,
            admin,
            uweight,
            iweight,
            check_state: 6,
        }
    }

    #[test]
    fn maintenance_and_drain_carry_over_unless_the_config_changed() {
        let (st, _) = next_start(false, 1, true, vals(0, ADMIN_FMAINT, 1, 1));
        assert!(st.maint && st.down);
        // `disabled` in the new config but not in the dump: the config wins.
        let (st, _) = next_start(true, 1, false, vals(2, 0, 1, 1));
        assert!(st.maint);
        // disabled in both, and the operator had enabled it: it stays enabled.
        let (st, _) = next_start(true, 1, false, vals(2, ADMIN_CMAINT, 1, 1));
        assert!(!st.maint);
        let (st, drained) = next_start(false, 1, false, vals(2, ADMIN_FDRAIN, 1, 1));
        assert!(st.drain && drained && st.weight_in_effect() == 0);
        // A drain that only came from weight 0, now positive: dropped.
        let (st, _) = next_start(false, 2, false, vals(2, ADMIN_FDRAIN, 0, 0));
        assert!(!st.drain);
    }

    #[test]
    fn weight_applies_only_when_the_configured_one_is_unchanged() {
        assert_eq!(next_start(false, 5, false, vals(2, 0, 3, 5)).0.weight, 3);
        assert_eq!(next_start(false, 6, false, vals(2, 0, 3, 5)).0.weight, 6);
    }

    fn load(cfg: &str) -> Result<crate::config::Loaded, String> {
        crate::config::load_str("state.cfg", cfg).map_err(|d| {
            d.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    const LINE: &str = "127.0.0.1 2 8 1 1 0 1 0 2 0 0 0 0 - 1 - 0 0 - - 0";

    #[test]
    fn a_backend_reads_its_own_file_under_the_base() {
        let dir = std::env::temp_dir().join(format!("ringlb-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text =
            format!("1\n# header\n3 app 1 s1 {LINE}\n9 app 2 s2 {LINE}\n3 other 1 s1 {LINE}\n");
        std::fs::write(dir.join("app.state"), text).unwrap();
        let cfg = format!(
            "global\n    server-state-base {}\ndefaults\n    mode http\n    timeout connect 1s\n    \
             timeout client 1s\n    timeout server 1s\n    load-server-state-from-file local\n\
             backend app\n    server-state-file-name app.state\n    server s1 127.0.0.1:1\n    \
             server s2 127.0.0.1:2\nbackend none\n    load-server-state-from-file none\n    \
             server s1 127.0.0.1:3\n",
            dir.display()
        );
        let loaded = load(&cfg).unwrap_or_else(|e| panic!("{e}"));
        let app = &loaded.model.backends[0];
        assert!(app.servers[0].start.drain && app.servers[1].start.drain);
        assert!(!loaded.model.backends[1].servers[0].start.drain);
        let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
        let file = dir.join("app.state").display().to_string();
        // app's id is 1 (no stats socket): line 4 says 9, line 5 names another backend.
        assert!(warnings.contains(&format!(
            "{file}:4: warning: Proxy 'app': backend ID mismatch: from server state file: '9', from running config '1'"
        )), "{warnings:#?}");
        assert!(warnings.contains(&format!(
            "{file}:5: warning: Proxy 'app': backend name mismatch: from server state file: 'other', from running config 'app'"
        )), "{warnings:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keyword_errors_name_the_line() {
        let e = load("defaults\n    load-server-state-from-file sometimes\n").err();
        let e = e.unwrap_or_default();
        assert!(
            e.contains("state.cfg:2: 'load-server-state-from-file' expects 'global', 'local' or 'none', not 'sometimes'"),
            "{e}"
        );
        let e = load("global\n    server-state-file\n")
            .err()
            .unwrap_or_default();
        assert!(
            e.contains("state.cfg:2: 'server-state-file' needs a file name"),
            "{e}"
        );
    }

    #[test]
    fn down_only_for_checked_servers_and_paused_checks_stay_paused() {
        assert!(!next_start(false, 1, false, vals(0, 0, 1, 1)).0.down);
        let mut v = vals(2, 0, 1, 1);
        v.check_state = CHECK_CONFIGURED;
        assert!(!next_start(false, 1, true, v).0.checks_enabled);
    }
}
