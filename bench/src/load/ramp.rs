//! `ringlb-bench ramp`: open-loop steps at rising rates until p99 latency or the error rate
//! crosses a threshold; reports the last rate that held and the first that broke.

use super::{run, LoadOpts, Summary};
use crate::cli::Ramp;

/// `ringlb-bench ramp`: the steps, one line each, and the result.
pub fn main(ramp: Ramp) -> Result<(), String> {
    let Ramp {
        load: opts,
        rates,
        max_p99,
        max_errors: max_err,
        max_shortfall: max_short,
    } = ramp;
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
