//! `ringlb-bench ramp`: open-loop steps at rising rates until p99 latency or the error rate
//! crosses a threshold; reports the last rate that held and the first that broke.

use std::time::Duration;

use super::{parse_load_flag, run, value, LoadOpts, Summary};

pub const USAGE: &str = "\
ringlb-bench ramp: find the rate at which a target's p99 or error rate breaks

USAGE:
    ringlb-bench ramp [OPTIONS] [LOAD OPTIONS] URL

OPTIONS:
    --rates LIST         rates to try, req/s, in order
                         (default 1000,2000,5000,10000,20000,50000,100000,200000)
    --step S             measured seconds per rate (default 3; -d is the same)
    --max-p99 MS         a step breaks when its p99 exceeds MS milliseconds (default 10)
    --max-errors PCT     ... or when more than PCT % of its requests fail (default 1)
    --max-shortfall PCT  ... or when it delivers less than (100-PCT) % of the rate (default 10)

Every step is open loop (latency from the intended send time), with its own warm-up.
LOAD OPTIONS as `ringlb-bench load` (-c, -t, --close, --body, -H ...; default -c 64).
";

pub fn main(args: &[String]) -> Result<(), String> {
    let mut opts = LoadOpts {
        progress: false,
        duration: Duration::from_secs(3),
        ..LoadOpts::default()
    };
    let mut rates = vec![1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5];
    let (mut max_p99, mut max_err, mut max_short) = (10.0, 1.0, 10.0);
    let mut url = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let number = |v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|x| *x >= 0.0)
                .ok_or_else(|| format!("{a} {v}: expected a number"))
        };
        match a.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            "--rates" => {
                rates = value(&mut it, a)?
                    .split(',')
                    .map(|r| number(r.trim().to_string()))
                    .collect::<Result<_, _>>()?;
                if rates.iter().any(|r| *r <= 0.0) {
                    return Err("--rates: every rate must be > 0".to_string());
                }
            }
            "--step" => opts.duration = super::duration(a, &value(&mut it, a)?)?,
            "--max-p99" => max_p99 = number(value(&mut it, a)?)?,
            "--max-errors" => max_err = number(value(&mut it, a)?)?,
            "--max-shortfall" => max_short = number(value(&mut it, a)?)?,
            f if f.starts_with('-') => {
                if !parse_load_flag(&mut opts, f, &mut it)? {
                    return Err(format!("ramp: unknown option '{f}' (see --help)"));
                }
            }
            u => url = Some(u.to_string()),
        }
    }
    opts.url = url.ok_or("ramp: no URL (see --help)")?;
    println!(
        "ramp {}: {} s per step, breaks at p99 > {max_p99} ms, errors > {max_err} %, \
         or achieved < {} % of the rate; {} connections",
        opts.url,
        opts.duration.as_secs_f64(),
        100.0 - max_short,
        opts.conns
    );
    println!(
        "{:>10} {:>10} {:>10} {:>10} {:>8}  verdict",
        "rate", "achieved", "p50 ms", "p99 ms", "errors%"
    );
    let mut last_good = None;
    for rate in rates {
        let s = run(&LoadOpts {
            rate: Some(rate),
            ..opts.clone()
        })?;
        let reason = breaks(&s, rate, max_p99, max_err, max_short);
        println!(
            "{rate:>10.0} {:>10.0} {:>10.3} {:>10.3} {:>8.2}  {}",
            s.rps,
            s.pct(50.0),
            s.pct(99.0),
            100.0 * s.error_rate(),
            reason.as_deref().unwrap_or("ok")
        );
        if let Some(why) = reason {
            match last_good {
                Some(g) => {
                    println!("result: holds {g:.0} req/s; breaks at {rate:.0} req/s ({why})")
                }
                None => println!("result: breaks already at {rate:.0} req/s ({why})"),
            }
            return Ok(());
        }
        last_good = Some(rate);
    }
    if let Some(g) = last_good {
        println!("result: held every rate up to {g:.0} req/s (no break found; try higher --rates)");
    }
    Ok(())
}

/// Why a step broke, or `None` when it held.
pub fn breaks(
    s: &Summary,
    rate: f64,
    max_p99: f64,
    max_err: f64,
    max_short: f64,
) -> Option<String> {
    if 100.0 * s.error_rate() > max_err {
        Some(format!(
            "errors {:.2} % > {max_err} %",
            100.0 * s.error_rate()
        ))
    } else if s.pct(99.0) > max_p99 {
        Some(format!("p99 {:.3} ms > {max_p99} ms", s.pct(99.0)))
    } else if s.rps < rate * (1.0 - max_short / 100.0) {
        Some(format!(
            "achieved {:.0} < {:.0} % of the rate",
            s.rps,
            100.0 - max_short
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(rps: f64, p99: f64, ok: u64, errors: u64) -> Summary {
        Summary {
            rps,
            requests: ok,
            errors_total: errors,
            pct_ms: vec![(50.0, p99 / 2.0), (99.0, p99)],
            ..Summary::default()
        }
    }

    #[test]
    fn steps_break_on_each_threshold() {
        assert_eq!(
            breaks(&summary(1000.0, 2.0, 1000, 0), 1000.0, 10.0, 1.0, 10.0),
            None
        );
        assert!(
            breaks(&summary(1000.0, 12.0, 1000, 0), 1000.0, 10.0, 1.0, 10.0)
                .unwrap()
                .starts_with("p99")
        );
        assert!(
            breaks(&summary(1000.0, 2.0, 980, 20), 1000.0, 10.0, 1.0, 10.0)
                .unwrap()
                .starts_with("errors")
        );
        assert!(
            breaks(&summary(850.0, 2.0, 850, 0), 1000.0, 10.0, 1.0, 10.0)
                .unwrap()
                .starts_with("achieved")
        );
    }
}
