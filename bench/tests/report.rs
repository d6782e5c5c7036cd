//! `ringlb-bench compare` end to end: two targets (both a `ringlb-bench backend` started
//! here), its JSON, its `.hgrm` files and its HTML report, rendered in headless Chromium when
//! the machine has it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ringlb-bench");

struct Backend {
    child: Child,
    port: u16,
}

impl Backend {
    fn start() -> Backend {
        let mut child = Command::new(BIN)
            .args(["backend", "--no-pin", "--name", "report"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn backend");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("listening line");
        let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
        Backend { child, port }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ringlb-bench-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

#[test]
fn compare_writes_json_hgrm_and_an_html_report_a_browser_renders() {
    let b = Backend::start();
    let dir = scratch("compare");
    let url = format!("http://127.0.0.1:{}/", b.port);
    let out = Command::new(BIN)
        .arg("compare")
        .args([
            "--scenario",
            "smoke",
            "--rounds",
            "2",
            "-c",
            "4",
            "-d",
            "0.5",
        ])
        .args(["--warmup", "0.1", "--no-pin", "--goal", "1.0"])
        .arg(format!("--target=haproxy={url}"))
        .arg(format!("--target=ringlb={url}"))
        .args(["--about", "proxy=none"])
        .arg("--json")
        .arg(dir.join("r.json"))
        .arg("--html")
        .arg(dir.join("r.html"))
        .arg("--hgrm")
        .arg(dir.join("r"))
        .output()
        .expect("run compare");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).expect("json"))
            .expect("valid JSON");
    assert_eq!(json["about"]["proxy"], "none");
    assert!(json["about"]["machine"]["nproc"].as_u64().is_some());
    let targets = json["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2);
    for t in targets {
        assert_eq!(t["runs"].as_array().map(Vec::len), Some(2), "{t}");
        let p99 = t["p99_ms_all_rounds"].as_f64().expect("p99");
        let each: Vec<f64> = t["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["latency_ms"]["p99"].as_f64().unwrap())
            .collect();
        // A percentile of the two rounds together lies between the rounds' own.
        let (lo, hi) = (each[0].min(each[1]), each[0].max(each[1]));
        assert!(
            p99 >= lo * 0.99 && p99 <= hi * 1.01,
            "{p99} not in {each:?}"
        );
    }
    for name in ["haproxy", "ringlb"] {
        let h = std::fs::read_to_string(dir.join(format!("r-{name}.hgrm"))).expect("hgrm");
        assert!(h.contains("1/(1-Percentile)") && h.contains("#[Max"), "{h}");
    }

    let html = std::fs::read_to_string(dir.join("r.html")).expect("html");
    assert!(
        html.contains("<table>") && html.contains("<th>target</th>"),
        "a real table"
    );
    assert!(!html.contains("<pre>| target"), "no markdown in <pre>");
    assert!(
        html.matches("<svg").count() == 2,
        "bar chart and latency chart"
    );
    // One colour per target everywhere: haproxy's bar, curve and table key are the same.
    assert!(
        html.matches("#4e79a7").count() >= 3,
        "haproxy's colour on every chart"
    );

    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!("SKIP rendering: no chromium on this machine");
        return;
    };
    let png = dir.join("r.png");
    let shot = Command::new("timeout")
        .arg("120")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(["--window-size=1250,1100"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", dir.join("r.html").display()))
        .output()
        .expect("run chromium");
    let bytes = std::fs::read(&png).unwrap_or_default();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "a rendered page, not a blank one ({} bytes): {}",
        bytes.len(),
        String::from_utf8_lossy(&shot.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
