//! AFL target: configuration text into the loader. See targets/config.rs.
//!
//! The process first confines itself (Landlock) to reading one temporary directory, so that a
//! mutated config naming /dev/zero, a FIFO or /etc/shadow reads nothing outside it.
use ringlb_fuzz::targets::{config, sandbox};

fn main() {
    let dir = match sandbox::Sandbox::shared() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("config fuzzing: cannot prepare the sandbox directory: {e}");
            std::process::exit(2);
        }
    };
    // Relative file names in the corpus (errorfile, -f, map) resolve inside the sandbox.
    if let Err(e) = std::env::set_current_dir(dir.path()) {
        eprintln!("config fuzzing: cannot enter {}: {e}", dir.path().display());
        std::process::exit(2);
    }
    if let Err(e) = sandbox::confine_thread(dir.path()) {
        eprintln!("config fuzzing refuses to run unconfined: {e}");
        std::process::exit(2);
    }
    afl::fuzz!(|data: &[u8]| config::run(data));
}
