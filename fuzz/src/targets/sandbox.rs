//! A directory of small fixture files, and Landlock (Linux 5.13+) to keep the config target
//! inside it: the confined thread may read that directory and nothing else, write nothing,
//! open no TCP connection. A mutated config that names /dev/zero, a FIFO or a file of the
//! machine then gets "cannot read", and the fuzzer never touches the file system outside its
//! temp dir. Landlock confines the calling thread (and threads it starts) only, so the replay
//! test can confine one thread of the test process.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Files the corpus configs name by relative path (the fuzz binary runs inside the directory).
pub const FIXTURES: &[(&str, &str)] = &[
    (
        "503.http",
        "HTTP/1.0 503 Service Unavailable\r\ncontent-type: text/plain\r\n\r\nbusy\n",
    ),
    ("body.txt", "hello from a file\n"),
    ("paths.lst", "# admin paths\n/admin\n/internal\n"),
    ("hosts.map", "example.com be_app\napi.example.com be_api\n"),
    ("nets.map", "10.0.0.0/8 internal\n127.0.0.1 local\n"),
];

/// The fixture directory; a private one is removed on drop.
pub struct Sandbox {
    path: PathBuf,
    private: bool,
}

impl Sandbox {
    /// One directory for every fuzz process (AFL starts many): created if missing.
    pub fn shared() -> io::Result<Sandbox> {
        Self::create(std::env::temp_dir().join("ringlb-fuzz-sandbox"), false)
    }

    /// A directory of its own, removed on drop (for tests).
    pub fn private(tag: &str) -> io::Result<Sandbox> {
        let name = format!("ringlb-fuzz-{tag}-{}", std::process::id());
        Self::create(std::env::temp_dir().join(name), true)
    }

    fn create(path: PathBuf, private: bool) -> io::Result<Sandbox> {
        std::fs::create_dir_all(&path)?;
        for (name, text) in FIXTURES {
            std::fs::write(path.join(name), text)?;
        }
        Ok(Sandbox { path, private })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.private {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

// The Landlock ABI (include/uapi/linux/landlock.h).
const CREATE_RULESET_VERSION: libc::c_uint = 1;
const RULE_PATH_BENEATH: libc::c_int = 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
/// All filesystem rights of ABI 1 (execute .. make_sym), then what ABI 2, 3 and 5 added.
const FS_ABI1: u64 = (1 << 13) - 1;
const FS_REFER: u64 = 1 << 13;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
/// ABI 4: TCP bind and connect.
const NET_TCP: u64 = 0b11;
/// ABI 6: abstract unix sockets outside the domain.
const SCOPE_ABSTRACT_UNIX: u64 = 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// From now on this thread (and threads it starts) may only read below `dir`.
pub fn confine_thread(dir: &Path) -> io::Result<()> {
    // SAFETY: the version query takes no attribute pointer.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0,
            CREATE_RULESET_VERSION,
        )
    };
    if abi < 1 {
        return Err(io::Error::other(format!(
            "Landlock is not available on this kernel ({})",
            io::Error::last_os_error()
        )));
    }
    let attr = ruleset_for(abi);
    let size = match abi {
        1..=3 => std::mem::size_of::<u64>(),
        4 | 5 => 2 * std::mem::size_of::<u64>(),
        _ => std::mem::size_of::<RulesetAttr>(),
    };
    // SAFETY: attr lives across the call and `size` does not exceed it.
    let ruleset = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size,
            0,
        )
    };
    let ruleset = check(ruleset, "landlock_create_ruleset")? as libc::c_int;
    let result = restrict(ruleset, dir);
    // SAFETY: ruleset is a descriptor this function opened.
    unsafe { libc::close(ruleset) };
    result
}

fn ruleset_for(abi: libc::c_long) -> RulesetAttr {
    let mut fs = FS_ABI1;
    if abi >= 2 {
        fs |= FS_REFER;
    }
    if abi >= 3 {
        fs |= FS_TRUNCATE;
    }
    if abi >= 5 {
        fs |= FS_IOCTL_DEV;
    }
    RulesetAttr {
        handled_access_fs: fs,
        handled_access_net: if abi >= 4 { NET_TCP } else { 0 },
        scoped: if abi >= 6 { SCOPE_ABSTRACT_UNIX } else { 0 },
    }
}

fn restrict(ruleset: libc::c_int, dir: &Path) -> io::Result<()> {
    let c_dir = CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: c_dir is NUL-terminated.
    let fd = unsafe {
        libc::open(
            c_dir.as_ptr(),
            libc::O_PATH | libc::O_CLOEXEC | libc::O_DIRECTORY,
        )
    };
    let fd = check(fd as libc::c_long, "open the sandbox directory")? as libc::c_int;
    let rule = PathBeneathAttr {
        allowed_access: FS_READ_FILE | FS_READ_DIR,
        parent_fd: fd,
    };
    // SAFETY: rule lives across the call; the kernel reads it as landlock_path_beneath_attr.
    let added = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            RULE_PATH_BENEATH,
            &rule as *const PathBeneathAttr,
            0,
        )
    };
    // SAFETY: fd is a descriptor opened above.
    unsafe { libc::close(fd) };
    check(added, "landlock_add_rule")?;
    // SAFETY: plain prctl and syscall with integer arguments.
    check(
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } as libc::c_long,
        "no_new_privs",
    )?;
    check(
        unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0) },
        "landlock_restrict_self",
    )?;
    Ok(())
}

fn check(ret: libc::c_long, what: &str) -> io::Result<libc::c_long> {
    if ret < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(ret)
}
