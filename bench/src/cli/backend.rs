//! `backend`.

use std::net::SocketAddr;

use clap::{Args, ValueEnum};

use crate::backend::{Driver, Opts, Ring};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BackendDriver {
    #[value(name = "io_uring", alias = "iouring", alias = "uring")]
    IoUring,
    #[value(alias = "epoll")]
    Legacy,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RingArg {
    Coop,
    Defer,
    Plain,
}

/// Fast HTTP/1.1 backend (thread-per-core, monoio)
#[derive(Args, Debug)]
#[command(after_help = BACKEND_NOTES)]
pub struct BackendCmd {
    /// Address to listen on, repeatable (default 127.0.0.1:0); port 0 picks a free port
    /// shared by all threads
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Vec<SocketAddr>,
    /// Worker threads, each pinned to a core
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: u64,
    /// Cores to pin to, e.g. 1 or 0,1 (default: thread i on core i)
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = super::core)]
    pub cores: Option<Vec<usize>>,
    /// Do not pin threads
    #[arg(long)]
    pub no_pin: bool,
    /// Runtime driver
    #[arg(long, value_enum, default_value = "io_uring")]
    pub driver: BackendDriver,
    /// io_uring ring setup (see design.md: the default setup is measurably slower)
    #[arg(long, value_enum, default_value = "coop")]
    pub ring: RingArg,
    /// Sent as `x-server: NAME`, and the body of `GET /`
    #[arg(long, value_name = "NAME", default_value = "backend", value_parser = name)]
    pub name: String,
    /// Answer this fraction (0..1) of requests with 503
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = fraction)]
    pub fail_rate: f64,
    /// Close the connection after every response
    #[arg(long)]
    pub close: bool,
    /// Answer every request MS milliseconds late (a slow server)
    #[arg(long, value_name = "MS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub delay: u64,
}

const BACKEND_NOTES: &str = "\
Routes:
    /size/N     200, N bytes of body
    /status     200, \"OK\\n\"
    /delay/MS   200 after MS milliseconds
    /echo       200, the request body (Content-Length or chunked)
    anything else: 200, body \"NAME\\n\"

On start it prints one line per listener to stdout: `listening on IP:PORT`.";

fn name(v: &str) -> Result<String, String> {
    if v.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err("must not contain control characters".to_string());
    }
    Ok(v.to_string())
}

fn fraction(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| "expected a number from 0 to 1".to_string())
}

impl BackendCmd {
    pub fn into_opts(self) -> Opts {
        let mut listen = self.listen;
        if listen.is_empty() {
            listen.push(SocketAddr::from(([127, 0, 0, 1], 0)));
        }
        Opts {
            listen,
            threads: self.threads as usize,
            cores: self.cores,
            pin: !self.no_pin,
            driver: match self.driver {
                BackendDriver::IoUring => Driver::IoUring,
                BackendDriver::Legacy => Driver::Legacy,
            },
            ring: match self.ring {
                RingArg::Coop => Ring::Coop,
                RingArg::Defer => Ring::Defer,
                RingArg::Plain => Ring::Plain,
            },
            name: self.name,
            fail_rate: self.fail_rate,
            close: self.close,
            delay_ms: self.delay,
        }
    }
}
