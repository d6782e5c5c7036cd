//! Starting a worker: this binary again (`child.rs` says why not a fork), with the
//! environment that makes it a worker, a pipe it writes "ready" to, and a thread that turns
//! the pipe and the process's end into events for the master's loop.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crossbeam_channel::Sender;

use super::child::{ENV_DETACH, ENV_MASTER, ENV_READY_FD, ENV_SOCKET};
use super::Event;

/// What every worker is started with.
pub struct Plan {
    /// The executable resolved once at start: after an upgrade that replaced the file, the
    /// next reload runs the new binary (the master itself stays the one that was started).
    pub exe: PathBuf,
    /// `-f` files, `-q`, `-d`: the worker's command line, bar `-x`.
    pub args: Vec<String>,
    /// The master's private directory for the workers' internal sockets.
    pub dir: PathBuf,
    /// The master daemonized: the worker started before it detached detaches once ready.
    pub detach: bool,
}

/// Starts worker number `seq`, taking the listening sockets of the worker at `take` when
/// given. Must run on the master's main thread: PR_SET_PDEATHSIG fires when the *thread*
/// that forked ends, and the main thread lives as long as the master.
pub fn worker(
    plan: &Plan,
    seq: u32,
    take: Option<&Path>,
    events: &Sender<Event>,
) -> Result<(i32, PathBuf), String> {
    let socket = plan.dir.join(format!("worker-{seq}.sock"));
    let (read_end, write_end) = pipe()?;
    let master = std::process::id();
    let mut cmd = Command::new(&plan.exe);
    cmd.args(&plan.args);
    if let Some(old) = take {
        cmd.arg("-x").arg(old);
    }
    cmd.env(ENV_MASTER, master.to_string())
        .env(ENV_SOCKET, &socket)
        .env(ENV_READY_FD, write_end.as_raw_fd().to_string())
        .env_remove(ENV_DETACH)
        // systemd accepts notifications from the master (NotifyAccess=main).
        .env_remove("NOTIFY_SOCKET");
    if plan.detach {
        cmd.env(ENV_DETACH, "1");
    }
    let fd = write_end.as_raw_fd();
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // async-signal-safe functions (fcntl, prctl, getppid, _exit) on values copied in.
    unsafe {
        cmd.pre_exec(move || {
            // The pipe's write end, and only it, survives the exec.
            libc::fcntl(fd, libc::F_SETFD, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            if libc::getppid() != master as libc::pid_t {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start a worker ({}): {e}", plan.exe.display()))?;
    drop(write_end);
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let tx = events.clone();
    std::thread::Builder::new()
        .name(format!("ringlb-wait-{pid}"))
        .spawn(move || {
            let mut line = String::new();
            let mut pipe = std::fs::File::from(read_end);
            // EOF without a line: the worker ended before serving.
            if pipe.read_to_string(&mut line).is_ok() && !line.trim().is_empty() {
                let version = line.trim().to_string();
                let _ = tx.send(Event::Ready { pid, version });
            }
            let status = wait_unreaped(pid).unwrap_or_else(|_| ExitStatus::from_raw(1 << 8));
            let _ = tx.send(Event::Exited { pid, status, child });
        })
        .map_err(|e| format!("cannot start the thread that waits for worker {pid}: {e}"))?;
    Ok((pid, socket))
}

/// Waits for `pid` to end without reaping it (WNOWAIT): its status, in wait(2)'s encoding.
fn wait_unreaped(pid: i32) -> std::io::Result<ExitStatus> {
    loop {
        // SAFETY: siginfo_t is plain data, all zeroes is a valid value; waitid fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes only `info`; WNOWAIT leaves the child waitable.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                libc::id_t::try_from(pid).unwrap_or(0),
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            // SAFETY: for a CLD_* siginfo from waitid, si_status is the field set.
            let status = unsafe { info.si_status() };
            let raw = match info.si_code {
                libc::CLD_EXITED => (status & 0xff) << 8,
                libc::CLD_DUMPED => status | 0x80,
                _ => status,
            };
            return Ok(ExitStatus::from_raw(raw));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A pipe, both ends close-on-exec (the worker's end is made inheritable in its child only).
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!(
            "cannot create a pipe for a worker: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: both are new, open, and owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// HAProxy's "exited with code N (Reason)": the exit code, or 128 + the signal.
pub fn describe(status: ExitStatus) -> (i32, String) {
    if let Some(sig) = status.signal() {
        let name = match sig {
            libc::SIGKILL => "Killed".to_string(),
            libc::SIGTERM => "Terminated".to_string(),
            libc::SIGSEGV => "Segmentation fault".to_string(),
            libc::SIGABRT => "Aborted".to_string(),
            libc::SIGINT => "Interrupt".to_string(),
            libc::SIGBUS => "Bus error".to_string(),
            other => format!("signal {other}"),
        };
        return (128 + sig, name);
    }
    (status.code().unwrap_or(1), "Exit".to_string())
}
