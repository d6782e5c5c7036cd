//! Process-level chores done the way HAProxy does them: daemon mode, pid file, signals,
//! dropping privileges, and the `-sf`/`-st` hand-over to an older process.

use std::os::fd::RawFd;
use std::path::Path;

use crossbeam_channel::{unbounded, Receiver};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

use crate::launch::request_stop;
use crate::worker::StopKind;

/// Forks into the background. The parent waits until the child says it is listening (or dies)
/// and exits with a matching status, so `ringlb -D` fails visibly when start-up fails.
/// Returns, in the child, the pipe to write "ready" to.
pub fn daemonize() -> Result<RawFd, String> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: plain libc calls on our own descriptors, made before any thread is started.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return Err(format!(
                "cannot create a pipe to daemonize: {}",
                std::io::Error::last_os_error()
            ));
        }
        match libc::fork() {
            -1 => Err(format!(
                "cannot fork into the background: {}",
                std::io::Error::last_os_error()
            )),
            0 => {
                libc::close(fds[0]);
                libc::setsid();
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    libc::dup2(null, 0);
                    libc::dup2(null, 1);
                }
                Ok(fds[1])
            }
            _child => {
                libc::close(fds[1]);
                let mut byte = 0u8;
                let n = libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
                libc::_exit(if n == 1 { 0 } else { 1 });
            }
        }
    }
}

pub fn tell_parent_ready(fd: RawFd) {
    // SAFETY: writing one byte to the pipe created by `daemonize`, then closing it.
    unsafe {
        libc::write(fd, b"r".as_ptr().cast(), 1);
        libc::close(fd);
        // The parent has gone: stderr now leads nowhere useful.
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 2);
        }
    }
}

pub fn write_pidfile(path: &Path) -> Result<(), String> {
    std::fs::write(path, format!("{}\n", std::process::id()))
        .map_err(|e| format!("cannot write pid file {}: {e}", path.display()))
}

/// What the signal thread asks of the launcher, which owns what it takes to do it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// SIGHUP: log every server's state, as HAProxy does.
    DumpServerStates,
}

/// Installs the signal handling; the launcher receives the requests only it can serve.
///
/// No signal ends the process except the ones meant to: SIGUSR1 soft stop, SIGTERM/SIGINT
/// graceful stop (a second one exits at once). SIGHUP dumps the servers' states; SIGUSR2
/// (which reloads a master: master/, not this process) and SIGQUIT (HAProxy's pool dump,
/// which ringlb lacks) are logged and ignored. SIGPIPE,
/// SIGTTOU and SIGTTIN are ignored outright (see `IGNORED`).
pub fn handle_signals(quiet: bool) -> Result<Receiver<Control>, String> {
    ignore_stray_signals();
    let mut signals =
        Signals::new(HANDLED).map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let (tx, rx) = unbounded();
    std::thread::Builder::new()
        .name("ringlb-signals".into())
        .spawn(move || {
            let mut terms = 0;
            for sig in signals.forever() {
                match sig {
                    SIGUSR1 => request_stop(StopKind::Soft),
                    SIGTERM | SIGINT => {
                        terms += 1;
                        if terms > 1 {
                            std::process::exit(0);
                        }
                        request_stop(StopKind::Graceful);
                    }
                    // The launcher may be gone already (the process is exiting): nothing to do.
                    SIGHUP => drop(tx.send(Control::DumpServerStates)),
                    other => {
                        if !quiet {
                            warn_ignored(other);
                        }
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(rx)
}

/// Every signal the signal thread takes over from its default action.
const HANDLED: [i32; 6] = [SIGTERM, SIGINT, SIGUSR1, SIGHUP, SIGUSR2, SIGQUIT];

/// Signals whose default action (terminate or suspend) must never apply, ignored by the
/// kernel rather than caught:
/// - SIGPIPE: a client that resets mid-response makes a write fail with EPIPE, which that
///   connection handles. Rust's runtime already ignores it before `main`; said again so that
///   the process never depends on how it was started.
/// - SIGTTOU/SIGTTIN (HAProxy: pause/resume the listeners, not supported yet): caught, a
///   background process writing to a terminal set to `tostop` would be signalled again at
///   every restarted write; ignored, the write proceeds.
const IGNORED: [i32; 3] = [libc::SIGPIPE, libc::SIGTTOU, libc::SIGTTIN];

/// `IGNORED`, for the master too (master-worker mode), which handles the others itself.
pub fn ignore_stray_signals() {
    ignore(&IGNORED);
}

fn ignore(sigs: &[i32]) {
    for &sig in sigs {
        // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
        unsafe {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
}

/// One line for a signal that HAProxy gives a meaning ringlb does not have (yet).
fn warn_ignored(sig: i32) {
    let (name, why) = match sig {
        SIGUSR2 => ("SIGUSR2", "it reloads a master (master-worker mode, -W), and this process is none: send it to the master, or reload with 'ringlb -f CFG -x SOCKET -sf PID'"),
        SIGQUIT => ("SIGQUIT", "it dumps HAProxy's memory pools; ringlb has none to dump"),
        _ => ("a signal", "ringlb defines no action for it"),
    };
    eprintln!(
        "[WARNING]  ({}) : {name} received and ignored: {why}.",
        std::process::id()
    );
}

/// `chroot DIR`: entered once every socket is bound and every file loaded, before privileges
/// are dropped (it needs root), as HAProxy does. Without root it is a warning, as there.
pub fn enter_chroot(dir: &Path) -> Result<(), String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!(
            "ringlb: warning: 'chroot {}' ignored: not started as root",
            dir.display()
        );
        return Ok(());
    }
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("chroot {}: invalid path", dir.display()))?;
    // SAFETY: chroot and chdir take NUL-terminated paths we own; they affect the whole process.
    let ok = unsafe { libc::chroot(c.as_ptr()) == 0 && libc::chdir(c"/".as_ptr()) == 0 };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "cannot chroot to {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        ))
    }
}

/// The numeric ids of `user`/`group`, looked up at start: after `chroot` the password and
/// group files are usually out of reach (Debian's /var/lib/haproxy has none), so they must be
/// known before it, as HAProxy reads them while parsing. A name that does not exist stops
/// the start.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ids {
    pub uid: Option<libc::uid_t>,
    pub gid: Option<libc::gid_t>,
}

pub fn resolve_ids(user: Option<&str>, group: Option<&str>) -> Result<Ids, String> {
    let uid = match user {
        Some(u) => Some(lookup_uid(u).ok_or_else(|| format!("global 'user {u}': no such user"))?),
        None => None,
    };
    let gid = match group {
        Some(g) => Some(lookup_gid(g).ok_or_else(|| format!("global 'group {g}': no such group"))?),
        None => None,
    };
    Ok(Ids { uid, gid })
}

/// After binding (privileged ports need root) and `chroot`, switch to `user`/`group` as
/// HAProxy does: supplementary groups dropped, then the group, then the user. A switch that
/// fails is fatal (the process would go on as root). Without root there is nothing to drop;
/// HAProxy warns in that case, and so do we.
pub fn drop_privileges(ids: Ids) -> Result<(), String> {
    if ids.uid.is_none() && ids.gid.is_none() {
        return Ok(());
    }
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("ringlb: warning: 'user'/'group' ignored: not started as root, nothing to drop");
        return Ok(());
    }
    let failed = |what: String| Err(format!("{what}: {}", std::io::Error::last_os_error()));
    if let Some(gid) = ids.gid {
        // SAFETY: setgroups with a zero count reads no pointer; setgid applies to every
        // thread (glibc broadcasts set*id calls).
        if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
            return failed("cannot drop the supplementary groups".into());
        }
        // SAFETY: as above.
        if unsafe { libc::setgid(gid) } != 0 {
            return failed(format!("cannot switch to gid {gid}"));
        }
    }
    if let Some(uid) = ids.uid {
        // SAFETY: as above.
        if unsafe { libc::setuid(uid) } != 0 {
            return failed(format!("cannot switch to uid {uid}"));
        }
    }
    Ok(())
}

fn lookup_uid(name: &str) -> Option<libc::uid_t> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam reads a NUL-terminated name and returns null or a valid entry.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    // SAFETY: non-null pointers from getpwnam point to a valid passwd record.
    (!pw.is_null()).then(|| unsafe { (*pw).pw_uid })
}

fn lookup_gid(name: &str) -> Option<libc::gid_t> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: as in lookup_uid, for groups.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    // SAFETY: non-null pointers from getgrnam point to a valid group record.
    (!gr.is_null()).then(|| unsafe { (*gr).gr_gid })
}

/// `-sf`: the old process finishes its connections and exits; `-st`: it stops now.
pub fn signal_old_processes(soft: &[i32], hard: &[i32]) {
    for (pids, sig) in [(soft, libc::SIGUSR1), (hard, libc::SIGTERM)] {
        for &pid in pids {
            // SAFETY: kill only sends a signal.
            if pid > 0 && unsafe { libc::kill(pid, sig) } != 0 {
                eprintln!(
                    "ringlb: warning: cannot signal old process {pid}: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
}
