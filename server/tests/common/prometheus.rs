//! A real Prometheus for the tests that read from one (Debian's `prometheus`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Prometheus process, killed when dropped.
pub struct Prometheus {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Prometheus binary (`SEAM_PROMETHEUS_BIN`, else `prometheus` on the path); `None`,
/// after saying the test is skipped, when it does not run, unless
/// `SEAM_REQUIRE_PROMETHEUS` is set.
pub fn binary() -> Option<String> {
    let path = std::env::var("SEAM_PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".to_owned());
    let found = Command::new(&path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(path);
    }
    assert!(
        std::env::var_os("SEAM_REQUIRE_PROMETHEUS").is_none(),
        "SEAM_REQUIRE_PROMETHEUS is set but {path} does not run"
    );
    eprintln!("skipped: a test against Prometheus, {path} not found (apt-get install prometheus)");
    None
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Prometheus on a free loopback port, scraping each `(job, target)` every second,
/// and waits until it is ready.
pub async fn start(bin: &str, jobs: &[(&str, &str)]) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let scrape_configs: String = jobs
        .iter()
        .map(|(job, base)| {
            let target = base.trim_start_matches("http://");
            format!("  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n")
        })
        .collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{scrape_configs}"
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let url = format!("http://127.0.0.1:{port}");
    let prometheus = Prometheus {
        child,
        url,
        _dir: dir,
    };
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(format!("{}/-/ready", prometheus.url)).await {
            if response.status().is_success() {
                return prometheus;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("prometheus did not become ready");
}
