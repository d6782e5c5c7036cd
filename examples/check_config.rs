//! Prints what `config::load` reports for the files given: `cargo run --example check_config -- FILE...`.

fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    match ringlb::config::load(&paths) {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("{w}");
            }
            println!(
                "OK: {} frontends, {} backends",
                l.model.frontends.len(),
                l.model.backends.len()
            );
        }
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            std::process::exit(1);
        }
    }
}
