//! The `ringlb` binary: command line -> config::load -> launch, with HAProxy's exit codes.

use std::process::ExitCode;

use ringlb::cli::{self, Args};
use ringlb::config;
use ringlb::launch::{self, Options};
use ringlb::process;

fn main() -> ExitCode {
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
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("ringlb: {e}");
            }
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<(), String> {
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
    if args.check {
        println!("Configuration file is valid");
        return Ok(());
    }
    let model = loaded.model;
    let daemon = (args.daemon || model.global.daemon) && !args.foreground;
    let pidfile = args
        .pidfile
        .clone()
        .or_else(|| model.global.pidfile.clone());
    let ready_pipe = if daemon {
        Some(process::daemonize()?)
    } else {
        None
    };
    if let Some(p) = &pidfile {
        process::write_pidfile(p)?;
    }
    let control = process::handle_signals(args.quiet)?;
    let user = (model.global.user.clone(), model.global.group.clone());
    let chroot = model.global.chroot.clone();
    let on_ready = Box::new(move || {
        if let Some(dir) = &chroot {
            if let Err(e) = process::enter_chroot(dir) {
                // HAProxy refuses to run outside the chroot it was told to use.
                eprintln!("ringlb: {e}");
                std::process::exit(1);
            }
        }
        process::drop_privileges(user.0.as_deref(), user.1.as_deref());
        process::signal_old_processes(&args.soft_stop_pids, &args.hard_stop_pids);
        if let Some(fd) = ready_pipe {
            process::tell_parent_ready(fd);
        }
    });
    let result = launch::run(
        model,
        Options {
            quiet: args.quiet,
            debug: args.debug,
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

fn print_version(level: u8) {
    println!("ringlb version {}", env!("CARGO_PKG_VERSION"));
    if level > 1 {
        println!("Reads: HAProxy 2.6 configuration files");
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
