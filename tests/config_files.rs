//! Files a configuration names, and the `-f` paths themselves: only regular files of bounded
//! size are read. Every case runs the real binary (`ringlb -c`) with a deadline and a capped
//! address space, so a regression that waits on a FIFO or reads /dev/zero fails in seconds
//! instead of hanging the suite or eating the machine's memory.

// Only the process helpers are used here (no scenario runs on both drivers).
#[allow(unused_macros, unused_imports)]
mod common;

use common::*;
use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Address space for one `ringlb -c`: a few times what a check needs, far below what reading
/// /dev/zero unbounded would take.
const ADDRESS_SPACE: u64 = 2 << 30;
const DEADLINE: Duration = Duration::from_secs(15);
const CONFIG_FILE_LIMIT: u64 = 16 << 20;
const LIST_FILE_LIMIT: u64 = 64 << 20;

const HEAD: &str = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    \
                    timeout server 1s\n";

struct Checked {
    code: Option<i32>,
    output: String,
}

impl Checked {
    /// Asserts that `line` is one of the output lines, word for word.
    fn has_line(&self, line: &str) {
        assert!(
            self.output.lines().any(|l| l == line),
            "expected the line\n  {line}\nin:\n{}",
            self.output
        );
    }

    fn failed(&self) {
        assert_eq!(self.code, Some(1), "exit status; output:\n{}", self.output);
    }
}

/// `ringlb -c` with `-f` for each path; killed after `DEADLINE`.
fn check(paths: &[&Path]) -> Checked {
    let mut cmd = Command::new(bin());
    cmd.arg("-c");
    for p in paths {
        cmd.arg("-f").arg(p);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: ADDRESS_SPACE,
                rlim_max: ADDRESS_SPACE,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn ringlb");
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    })
    .collect();
    let start = Instant::now();
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break Some(st);
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output: String = readers
        .into_iter()
        .map(|r| r.join().unwrap_or_default())
        .collect();
    assert!(
        status.is_some(),
        "ringlb -c {paths:?} did not exit within {DEADLINE:?}:\n{output}"
    );
    Checked {
        code: status.and_then(|s| s.code()),
        output,
    }
}

fn mkfifo(path: &Path) -> PathBuf {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
    path.to_path_buf()
}

/// A sparse file of `len` bytes (zeros): large without costing disk.
fn sparse(path: &Path, len: u64) -> PathBuf {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(len).unwrap();
    path.to_path_buf()
}

fn symlink_to_nowhere(dir: &TempDir, name: &str) -> PathBuf {
    let link = dir.path().join(name);
    std::os::unix::fs::symlink("/nonexistent/ringlb-target", &link).unwrap();
    link
}

fn valid_config(dir: &TempDir, name: &str) -> PathBuf {
    dir.write(
        name,
        format!("{HEAD}frontend fe\n    bind 127.0.0.1:0\n    default_backend app\nbackend app\n    server s 127.0.0.1:9\n"),
    )
}

#[test]
fn config_file_that_is_not_a_regular_file_is_refused() {
    let dir = TempDir::new();
    let fifo = mkfifo(&dir.path().join("fifo.cfg"));
    let socket = dir.path().join("sock.cfg");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    for (path, kind) in [
        (fifo.as_path(), "a FIFO"),
        (Path::new("/dev/zero"), "a character device"),
        (socket.as_path(), "a socket"),
    ] {
        let r = check(&[path]);
        r.failed();
        r.has_line(&format!(
            "{}: configuration file is not a regular file ({kind})",
            path.display()
        ));
    }
}

#[test]
fn config_file_over_the_limit_is_refused() {
    let dir = TempDir::new();
    let big = sparse(&dir.path().join("big.cfg"), CONFIG_FILE_LIMIT + 1);
    let r = check(&[&big]);
    r.failed();
    r.has_line(&format!(
        "{}: configuration file is larger than {CONFIG_FILE_LIMIT} bytes",
        big.display()
    ));
}

#[test]
fn dangling_symlink_as_config_is_reported_by_name() {
    let dir = TempDir::new();
    let link = symlink_to_nowhere(&dir, "gone.cfg");
    let r = check(&[&link]);
    r.failed();
    r.has_line(&format!(
        "{}: configuration file is a symbolic link to '/nonexistent/ringlb-target', which does not exist",
        link.display()
    ));
}

#[test]
fn config_directory_without_cfg_files_says_so() {
    let why = "configuration directory holds no *.cfg file (ringlb, as HAProxy, reads only the \
               *.cfg files of a -f directory)";
    let empty = TempDir::new();
    let r = check(&[empty.path()]);
    r.failed();
    r.has_line(&format!("{}: {why}; it is empty", empty.path().display()));
    assert!(
        !r.output.contains("no configuration file given"),
        "{}",
        r.output
    );

    let other = TempDir::new();
    other.write("site.conf", HEAD);
    other.write("notes.txt", "");
    let r = check(&[other.path()]);
    r.failed();
    r.has_line(&format!(
        "{}: {why}; it holds notes.txt, site.conf",
        other.path().display()
    ));
}

#[test]
fn empty_config_directory_beside_a_config_is_only_a_warning() {
    // As HAProxy, which accepts an empty conf.d silently: ringlb still names it.
    let dir = TempDir::new();
    let cfg = valid_config(&dir, "main.cfg");
    let confd = TempDir::new();
    let r = check(&[&cfg, confd.path()]);
    assert_eq!(r.code, Some(0), "{}", r.output);
    r.has_line(&format!(
        "{}: warning: configuration directory holds no *.cfg file (ringlb, as HAProxy, reads \
         only the *.cfg files of a -f directory); it is empty",
        confd.path().display()
    ));
}

#[test]
fn dangling_symlink_in_config_directory_is_reported_by_name() {
    let dir = TempDir::new();
    valid_config(&dir, "10-main.cfg");
    let link = symlink_to_nowhere(&dir, "20-gone.cfg");
    let r = check(&[dir.path()]);
    r.failed();
    r.has_line(&format!(
        "{}: configuration file is a symbolic link to '/nonexistent/ringlb-target', which does not exist",
        link.display()
    ));
}

#[test]
fn fifo_in_config_directory_is_skipped_with_a_warning() {
    // HAProxy skips what is not a regular file silently; ringlb names it.
    let dir = TempDir::new();
    valid_config(&dir, "10-main.cfg");
    let fifo = mkfifo(&dir.path().join("20-pipe.cfg"));
    std::fs::create_dir(dir.path().join("30-sub.cfg")).unwrap();
    let r = check(&[dir.path()]);
    assert_eq!(r.code, Some(0), "{}", r.output);
    r.has_line(&format!(
        "{}: warning: skipped: is not a regular file (a FIFO)",
        fifo.display()
    ));
    r.has_line(&format!(
        "{}/30-sub.cfg: warning: skipped: is a directory",
        dir.path().display()
    ));
}

#[test]
fn files_named_by_the_config_must_be_regular_and_bounded() {
    let dir = TempDir::new();
    let d = dir.path().display().to_string();
    mkfifo(&dir.path().join("fifo"));
    let http = |len: usize| {
        let head = "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n";
        format!("{head}{}", "x".repeat(len - head.len()))
    };
    dir.write("big.http", http(16385));
    dir.write("body.txt", "x".repeat(16385));
    sparse(&dir.path().join("big.map"), LIST_FILE_LIMIT + 1);
    symlink_to_nowhere(&dir, "gone.http");
    let lines = [
        "frontend fe".to_string(),
        "    bind 127.0.0.1:0".into(),
        "    errorfile 503 /dev/zero".into(),
        format!("    errorfile 502 {d}/fifo"),
        format!("    errorfile 504 {d}"),
        format!("    errorfile 500 {d}/big.http"),
        format!("    errorfile 403 {d}/gone.http"),
        format!("    acl a path -f {d}/fifo"),
        "    acl b path -f /dev/zero".into(),
        format!("    http-request set-header x-a %[path,map({d}/fifo)]"),
        format!("    http-request set-header x-b %[path,map({d}/big.map)]"),
        format!("    http-request return status 200 file {d}/body.txt if {{ path /x }}"),
        format!("    http-request return status 200 lf-file {d}/fifo if {{ path /y }}"),
        "    default_backend app".into(),
        "backend app".into(),
        "    server s 127.0.0.1:9".into(),
    ];
    let cfg = dir.write("check.cfg", format!("{HEAD}{}\n", lines.join("\n")));
    let r = check(&[&cfg]);
    r.failed();
    let c = cfg.display();
    let expected = [
        (8, "errorfile '/dev/zero' is not a regular file (a character device)".to_string()),
        (9, format!("errorfile '{d}/fifo' is not a regular file (a FIFO)")),
        (10, format!("errorfile '{d}' is a directory")),
        (11, format!("errorfile '{d}/big.http' is larger than tune.bufsize (16384 bytes); an error page must fit in one buffer, as in HAProxy (shorten the page or raise tune.bufsize)")),
        (12, format!("errorfile '{d}/gone.http' is a symbolic link to '/nonexistent/ringlb-target', which does not exist")),
        (13, format!("acl 'a': pattern file '{d}/fifo' is not a regular file (a FIFO)")),
        (14, "acl 'b': pattern file '/dev/zero' is not a regular file (a character device)".into()),
        (15, format!("http-request set-header: map file '{d}/fifo' is not a regular file (a FIFO)")),
        (16, format!("http-request set-header: map file '{d}/big.map' is larger than {LIST_FILE_LIMIT} bytes")),
        (17, format!("http-request return: file '{d}/body.txt' is larger than tune.bufsize (16384 bytes); a reply must fit in one buffer, as in HAProxy")),
        (18, format!("http-request return: file '{d}/fifo' is not a regular file (a FIFO)")),
    ];
    for (line, msg) in &expected {
        r.has_line(&format!("{c}:{line}: {msg}"));
    }
    let errors = r
        .output
        .lines()
        .filter(|l| l.starts_with(&format!("{c}:")))
        .count();
    assert_eq!(
        errors,
        expected.len(),
        "one message per bad file:\n{}",
        r.output
    );
}
