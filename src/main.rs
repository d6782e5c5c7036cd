//! The `ringlb` binary: command line -> config::load -> launch, with HAProxy's exit codes.

use std::process::ExitCode;

use ringlb::cli::{self, Args};
use ringlb::config;
use ringlb::launch::{self, Options};
use ringlb::master;
use ringlb::process;

fn main() -> ExitCode {
    // First, before any thread: it edits the environment.
    let role = master::Role::from_env();
    // As HAProxy before it reads its configuration (`.if defined(HAPROXY_LOCALPEER)`, "$..."):
    // the local peer name is the host name (HAProxy's -L, which ringlb lacks, would change it).
    std::env::set_var(
        "HAPROXY_LOCALPEER",
        ringlb::config::log_resolve::system_hostname(),
    );
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ringlb: {e}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{}", cli::HELP);
        return ExitCode::SUCCESS;
    }
    if args.version > 0 {
        print_version(args.version);
        return ExitCode::SUCCESS;
    }
    if let Some(cond) = &args.condition {
        return evaluate_condition(cond);
    }
    match run(args, role) {
        Ok(code) => code,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("ringlb: {e}");
            }
            ExitCode::from(1)
        }
    }
}

/// `role`: set when a master started this process as its worker (master/child.rs).
fn run(args: Args, role: Option<master::Role>) -> Result<ExitCode, String> {
    let loaded = load(&args)?;
    if args.check {
        println!("Configuration file is valid");
        return Ok(ExitCode::SUCCESS);
    }
    let model = loaded.model;
    if role.is_none() && master::wanted(&args, &model) {
        let code = master::run(args, model)?;
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }
    if !args.master_cli.is_empty() && role.is_none() && !args.quiet {
        eprintln!("[WARNING]  ({}) : a master CLI socket was defined (-S), but master-worker mode (-W) is not enabled.", std::process::id());
    }
    serve(args, model, role)?;
    Ok(ExitCode::SUCCESS)
}

/// The configuration, its errors and warnings printed as `file:line: message`.
fn load(args: &Args) -> Result<config::Loaded, String> {
    let loaded = match config::load(&args.files) {
        Ok(l) => l,
        Err(diags) => {
            let errors = diags
                .iter()
                .filter(|d| d.severity == config::Severity::Error)
                .count();
            for d in &diags {
                eprintln!("{d}");
            }
            return Err(format!(
                "{errors} error(s) in the configuration; nothing was started"
            ));
        }
    };
    if !args.quiet || args.check {
        for w in &loaded.warnings {
            eprintln!("{w}");
        }
    }
    Ok(loaded)
}

/// One process serving traffic, alone or as a master's worker.
fn serve(args: Args, mut model: config::Model, role: Option<master::Role>) -> Result<(), String> {
    // A worker: its master daemonized, wrote the pid file and signals the old worker.
    let worker = role.is_some();
    if let Some(r) = &role {
        r.guard();
        model.global.stats_sockets.push(r.internal_socket());
    }
    let daemon = (args.daemon || model.global.daemon) && !args.foreground && !worker;
    let pidfile = if worker {
        None
    } else {
        args.pidfile
            .clone()
            .or_else(|| model.global.pidfile.clone())
    };
    // Before daemonizing: an unknown user is said on the terminal.
    let ids = process::resolve_ids(model.global.user.as_deref(), model.global.group.as_deref())?;
    let ready_pipe = if daemon {
        Some(process::daemonize()?)
    } else {
        None
    };
    if let Some(p) = &pidfile {
        process::write_pidfile(p)?;
    }
    let control = process::handle_signals(args.quiet)?;
    let chroot = model.global.chroot.clone();
    let confine = Box::new(move || {
        if let Some(dir) = &chroot {
            if let Err(e) = process::enter_chroot(dir) {
                // HAProxy refuses to run outside the chroot it was told to use.
                eprintln!("ringlb: {e}");
                std::process::exit(1);
            }
        }
        if let Err(e) = process::drop_privileges(ids) {
            // HAProxy stops too rather than serve as root.
            eprintln!("ringlb: {e}");
            std::process::exit(1);
        }
    });
    let on_ready = Box::new(move || {
        process::signal_old_processes(&args.soft_stop_pids, &args.hard_stop_pids);
        if let Some(fd) = ready_pipe {
            process::tell_parent_ready(fd);
        }
        if let Some(mut r) = role {
            // Dropping privileges cleared PR_SET_PDEATHSIG: set again.
            r.guard();
            r.tell_ready();
        }
    });
    let result = launch::run(
        model,
        Options {
            quiet: args.quiet,
            debug: args.debug,
            confine,
            on_ready,
            control,
            take_sockets: args.take_sockets.clone(),
        },
    );
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    result
}

/// `-cc CONDITION`, as HAProxy: 0 true, 1 false, 2 with the reason when it does not parse.
fn evaluate_condition(cond: &str) -> ExitCode {
    match config::blocks::check_condition(cond) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ringlb: -cc: {e}");
            ExitCode::from(2)
        }
    }
}

fn print_version(level: u8) {
    println!("ringlb version {}", env!("CARGO_PKG_VERSION"));
    if level > 1 {
        println!("Reads: HAProxy 2.6 configuration files");
        println!(
            "Answers .if version_atleast()/version_before() as HAProxy {}",
            ringlb::build_info::HAPROXY_COMPAT_VERSION
        );
        println!("Feature list : {}", ringlb::build_info::feature_list());
        println!("Runtime: monoio, one pinned thread per core, SO_REUSEPORT listener per core");
        ringlb::build_info::lines()
            .iter()
            .for_each(|l| println!("{l}"));
        let uring = monoio::utils::detect_uring();
        println!("Drivers on this machine:");
        println!(
            "  io_uring : {}",
            if uring {
                "available (default)"
            } else {
                "NOT available (kernel or seccomp)"
            }
        );
        println!(
            "  legacy   : available (epoll){}",
            if uring { "" } else { " (default here)" }
        );
        match launch::choose_driver(config::model::DriverChoice::Auto) {
            Ok(d) => println!("Selected with the current environment: {}", d.name()),
            Err(e) => println!("Selected with the current environment: none ({e})"),
        }
    }
}
