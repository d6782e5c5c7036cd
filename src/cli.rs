//! The command line, HAProxy's flags so that scripts and habits carry over.

use std::path::PathBuf;

pub const HELP: &str = "\
ringlb - thread-per-core io_uring load balancer that reads HAProxy configuration files

Usage: ringlb -f <config file|dir> [-f ...] [options]

Options (as in HAProxy):
  -f <file|dir>  configuration file, or a directory whose *.cfg files are read in
                 lexical order; repeat -f to load several, in the order given
  -c             check the configuration and exit: 0 when valid, 1 with every error
  -cc <cond>     evaluate a '.if' condition (README: Conditional blocks) and exit: 0 when
                 true, 1 when false, 2 when it does not parse
  -d             debug: stay in the foreground (as -db) and print one line per request on
                 stderr, in HAProxy's 'option httplog' layout (README: Request records)
  -db            stay in the foreground even when the config says 'daemon'
  -D             run in the background (same as 'daemon' in the global section)
  -p <file>      write the process id to <file> (same as 'pidfile')
  -q             quiet: print nothing at start-up except errors
  -v             print the version and exit
  -vv            print the version, build options and the monoio drivers this machine supports
  -sf <pid>...   once listening, ask these processes to finish softly (SIGUSR1): a reload
  -st <pid>...   once listening, ask these processes to stop now (SIGTERM)
  -x <socket>    before binding, take the listening sockets of the old process from its
                 stats socket ('stats socket PATH expose-fd listeners'): with -sf, a reload
                 that loses no queued connection (README: Signals and reloads)
  -W             master-worker mode (as 'master-worker' in the global section): a master
                 process supervises one worker, reloads it on SIGUSR2 without losing a
                 connection, and stops with it
  -Ws            -W, and tell systemd (Type=notify) when ready, reloading and stopping
  -S <bind>[,opt,value]...
                 the master CLI, in master-worker mode: a unix socket path or
                 [ipv4@]IP:PORT; options mode,600 level,user|operator|admin uid,N gid,N
  -h, --help     this text

Environment:
  RINGLB_DRIVER=io_uring|legacy|auto   monoio driver for the workers (overrides 'ringlb.driver')

Signals:
  SIGUSR1        soft stop: stop accepting, serve the requests of accepted connections (each
                 response says Connection: close), close idle connections, then exit
  SIGTERM/INT    the same within 10 s, then exit; a second one exits at once
  SIGHUP         log every server's state (UP/DOWN) and keep running
  SIGUSR2/QUIT   logged and ignored (SIGUSR2 reloads a master, below)
  SIGPIPE        ignored

Signals to the master (-W, -Ws, 'master-worker'):
  SIGUSR2/HUP    reload: read the configuration again; if it loads, start a new worker that
                 takes the listening sockets, then soft-stop the old one; if not, print the
                 errors and keep the old worker serving
  SIGUSR1        soft-stop the workers, exit once they have
  SIGTERM/INT    pass SIGTERM to the workers, exit once they have
  A worker that dies makes the master stop with its status ('master-worker
  no-exit-on-failure': the master stays, and a reload starts a worker)

Exit status:
  0  clean stop, or -c found the configuration valid, or -v/-vv/--help
  1  configuration errors (each printed as file:line: message), or start-up failure
  2  bad command line
";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub files: Vec<PathBuf>,
    pub check: bool,
    pub debug: bool,
    pub foreground: bool,
    pub daemon: bool,
    pub pidfile: Option<PathBuf>,
    pub quiet: bool,
    pub version: u8,
    pub help: bool,
    pub soft_stop_pids: Vec<i32>,
    pub hard_stop_pids: Vec<i32>,
    /// `-x SOCKET`: the old process's stats socket, to take its listening sockets from.
    pub take_sockets: Option<PathBuf>,
    /// `-W` / `-Ws`: master-worker mode.
    pub master_worker: bool,
    /// `-Ws`: sd_notify to systemd.
    pub systemd: bool,
    /// `-S` arguments, as written (parsed by master/cli.rs).
    pub master_cli: Vec<String>,
    /// `-cc CONDITION`: answer a conditional block's condition and exit.
    pub condition: Option<String>,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.into_iter().peekable();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-f" => out
                .files
                .push(it.next().ok_or("-f needs a file or directory")?.into()),
            "-c" => out.check = true,
            "-cc" => {
                out.condition = Some(
                    it.next()
                        .ok_or("-cc needs a condition, e.g. 'feature(OPENSSL)'")?,
                )
            }
            "-d" => {
                out.debug = true;
                out.foreground = true;
            }
            "-db" => out.foreground = true,
            "-D" => out.daemon = true,
            "-p" => out.pidfile = Some(it.next().ok_or("-p needs a file name")?.into()),
            "-q" => out.quiet = true,
            "-x" => {
                out.take_sockets = Some(
                    it.next()
                        .ok_or("-x needs the old process's stats socket (expose-fd listeners)")?
                        .into(),
                )
            }
            "-W" => out.master_worker = true,
            "-Ws" => {
                out.master_worker = true;
                out.systemd = true;
            }
            "-S" => out
                .master_cli
                .push(it.next().ok_or("-S needs a socket path or IP:PORT")?),
            "-v" | "-V" => out.version = out.version.max(1),
            "-vv" => out.version = 2,
            "-h" | "--help" | "-help" => out.help = true,
            "-sf" | "-st" => {
                let pids = if arg == "-sf" {
                    &mut out.soft_stop_pids
                } else {
                    &mut out.hard_stop_pids
                };
                while let Some(p) = it.peek().and_then(|s| s.parse::<i32>().ok()) {
                    pids.push(p);
                    it.next();
                }
            }
            other if other.starts_with("-f") && other.len() > 2 => {
                out.files.push(other[2..].into())
            }
            other => return Err(format!("unknown option '{other}' (see ringlb --help)")),
        }
    }
    if out.files.is_empty() && !out.help && out.version == 0 && out.condition.is_none() {
        return Err("no configuration file given: use -f <file> (see ringlb --help)".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn x_takes_the_old_stats_socket() {
        let a = p("-f a.cfg -x /run/lb.sock -sf 12").unwrap();
        assert_eq!(a.take_sockets, Some("/run/lb.sock".into()));
        assert_eq!(a.soft_stop_pids, vec![12]);
        assert!(p("-f a.cfg -x").is_err());
    }

    #[test]
    fn master_worker_flags() {
        let a = p("-Ws -f a.cfg -S /run/m.sock,mode,600 -S 127.0.0.1:9999").unwrap();
        assert!(a.master_worker && a.systemd);
        assert_eq!(a.master_cli, vec!["/run/m.sock,mode,600", "127.0.0.1:9999"]);
        let w = p("-W -f a.cfg").unwrap();
        assert!(w.master_worker && !w.systemd);
        assert!(p("-f a.cfg -S").unwrap_err().contains("-S needs"));
    }

    #[test]
    fn haproxy_flags() {
        let a = p("-f a.cfg -f dir -c -db -p /tmp/x.pid -sf 12 13 -q").unwrap();
        assert_eq!(a.files, vec![PathBuf::from("a.cfg"), PathBuf::from("dir")]);
        assert!(a.check && a.foreground && a.quiet);
        assert_eq!(a.soft_stop_pids, vec![12, 13]);
        assert_eq!(a.pidfile, Some(PathBuf::from("/tmp/x.pid")));
    }

    #[test]
    fn errors_are_clear() {
        assert!(p("-z").unwrap_err().contains("unknown option '-z'"));
        assert!(p("-c").unwrap_err().contains("no configuration file"));
        assert!(p("-f").unwrap_err().contains("-f needs"));
    }
}
