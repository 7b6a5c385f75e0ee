//! Start-up to the first served request, memory right after it, and the binary's size.

use std::time::Duration;

use super::common::{cfg, mib, size, Server};
use super::record::{median, Report, Target};

pub async fn startup(report: &mut Report) {
    let starts = size(5, 2);
    report.section(
        "Start-up and binary",
        &format!(
            "Start-up: from spawning `mailkeys serve` to the first `200` from `/healthz` \
             (polled every millisecond), SQLite; each repetition the median of {starts} \
             starts, on a fresh file (schema created) and again on the existing file. Memory: \
             the process's RSS (`VmRSS` in /proc) 1 s after that first answer. Binary: the \
             file `cargo bench` built, and a copy through `strip`."
        ),
    );
    let (mut fresh, mut again, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..cfg().reps {
        let (mut f, mut a, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..starts {
            let db_dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", db_dir.path().join("start.db").display());
            let first = Server::start_on(tempfile::tempdir().unwrap(), url.clone(), &[]).await;
            f.push(first.startup.as_secs_f64() * 1000.0);
            first.stop().await;
            let second = Server::start_on(tempfile::tempdir().unwrap(), url, &[]).await;
            a.push(second.startup.as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_secs(1)).await;
            r.push(mib(second.rss_kib()));
            second.stop().await;
        }
        fresh.push(median(&f));
        again.push(median(&a));
        rss.push(median(&r));
    }
    report.figure(
        "start-up to first served request, fresh database",
        "ms",
        &fresh,
        Target::at_most(50.0, "≤ 50 ms", median(&fresh)),
    );
    report.figure(
        "start-up to first served request, existing database",
        "ms",
        &again,
        Target::at_most(50.0, "≤ 50 ms", median(&again)),
    );
    report.figure(
        "RSS 1 s after start-up (idle)",
        "MiB",
        &rss,
        Target::at_most(20.0, "≤ 20 MiB", median(&rss)),
    );
    let binary = env!("CARGO_BIN_EXE_mailkeys");
    let built = std::fs::metadata(binary).unwrap().len();
    let stripped_path =
        std::env::temp_dir().join(format!("mailkeys-stripped-{}", std::process::id()));
    let status = std::process::Command::new("strip")
        .arg("-o")
        .arg(&stripped_path)
        .arg(binary)
        .status()
        .unwrap();
    assert!(status.success(), "strip");
    let stripped = std::fs::metadata(&stripped_path).unwrap().len();
    let _ = std::fs::remove_file(&stripped_path);
    report.figure("binary as built", "MiB", &[mib(built / 1024)], None);
    report.figure("binary stripped", "MiB", &[mib(stripped / 1024)], None);
}
