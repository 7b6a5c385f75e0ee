//! Argon2id, both of Mailkeys' cost profiles, in the argon2 crate (what Mailkeys runs)
//! against libargon2 (Python argon2-cffi, its bundled reference C library), libsodium
//! (Python pynacl, its bundled libsodium) and Dovecot's `doveadm pw -t` (libsodium, a whole
//! process per verification, so its process start is measured and taken off).

use std::process::Command;
use std::time::Instant;

use argon2::{Algorithm, Argon2, Params, Version};
use mailkeys::config::Settings;
use mailkeys_test_support::dovecot::{DovecotVersion, Install};

use super::common::{argon2_hash, cfg, median_ms_of, size, PASSWORD};
use super::record::{median, Report};

/// Times `count` raw hashes (16-byte salt, 32-byte output) in Python with `lib`
/// (`argon2`: argon2-cffi, `sodium`: pynacl); prints one time in ms per line.
const PYTHON: &str = r#"
import sys, time
lib, m, t, p, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
pw, salt = b"correct pony staple ledger", b"mailkeys-bench-s"
if lib == "argon2":
    from argon2.low_level import hash_secret_raw, Type
    run = lambda: hash_secret_raw(pw, salt, time_cost=t, memory_cost=m, parallelism=p, hash_len=32, type=Type.ID)
else:
    assert p == 1, "libsodium's argon2id has one lane"
    from nacl.bindings import crypto_pwhash_alg, crypto_pwhash_ALG_ARGON2ID13
    run = lambda: crypto_pwhash_alg(32, pw, salt, t, m * 1024, crypto_pwhash_ALG_ARGON2ID13)
run()
for _ in range(count):
    started = time.perf_counter()
    run()
    print((time.perf_counter() - started) * 1000)
"#;

#[derive(Clone, Copy)]
pub struct Cost {
    pub name: &'static str,
    pub m: u32,
    pub t: u32,
    pub p: u32,
}

/// The two profiles, from Mailkeys' own defaults.
pub fn profiles() -> [Cost; 2] {
    let s = Settings::default();
    [
        Cost {
            name: "main",
            m: s.hash_main_memory_kib,
            t: s.hash_main_iterations,
            p: s.hash_main_parallelism,
        },
        Cost {
            name: "app",
            m: s.hash_app_memory_kib,
            t: s.hash_app_iterations,
            p: s.hash_app_parallelism,
        },
    ]
}

/// Median time of `count` raw hashes with the argon2 crate, in ms.
pub fn crate_ms(cost: Cost, count: usize) -> f64 {
    let params = Params::new(cost.m, cost.t, cost.p, Some(32)).unwrap();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; 32];
    // One work area reused for every hash, as Mailkeys' hashing threads do.
    let mut blocks = vec![argon2::Block::default(); params.block_count()];
    let mut run = || {
        argon
            .hash_password_into_with_memory(
                PASSWORD.as_bytes(),
                b"mailkeys-bench-s",
                &mut out,
                &mut blocks,
            )
            .unwrap();
    };
    run();
    median_ms_of(count, run)
}

fn python_ms(lib: &str, cost: Cost, count: usize) -> f64 {
    let python = std::env::var("MAILKEYS_BENCH_PYTHON")
        .unwrap_or_else(|_| "target/bench-venv/bin/python".into());
    let output = Command::new(&python)
        .args(["-c", PYTHON, lib])
        .args([cost.m, cost.t, cost.p].map(|v| v.to_string()))
        .arg(count.to_string())
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (scripts/bench makes target/bench-venv)"));
    assert!(
        output.status.success(),
        "{python} {lib}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let times: Vec<f64> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    median(&times)
}

/// Wall time of one `doveadm pw -t STORED -p PASSWORD` in ms (a verification, plus the start
/// of a doveadm process).
fn doveadm_once(install: &Install, stored: &str, password: &str) -> f64 {
    let started = Instant::now();
    let out = install
        .command("/usr/bin/doveadm")
        .args(["pw", "-t", stored, "-p", password])
        .output()
        .unwrap();
    let took = started.elapsed().as_secs_f64() * 1000.0;
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("verified"),
        "doveadm pw -t: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Medians of `count` verifications of `stored` and of a `{PLAIN}` hash, interleaved.
fn doveadm_ms(install: &Install, stored: &str, count: usize) -> (f64, f64) {
    let (mut argon, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..count {
        plain.push(doveadm_once(install, "{PLAIN}x", "x"));
        argon.push(doveadm_once(install, stored, PASSWORD));
    }
    (median(&argon), median(&plain))
}

pub async fn hashing(report: &mut Report) {
    let count = size(10, 3);
    report.section(
        "Argon2id implementations",
        &format!(
            "One hash (or verification) at each of Mailkeys' profiles, read from its defaults. \
             Each repetition is the median of {count} hashes after a warm-up, one thread. \
             Crate: the `argon2` crate Mailkeys uses, in this build, one work area reused as Mailkeys' hashing threads do (the others allocate theirs per hash). libargon2: Python \
             `argon2-cffi` (its bundled reference library). libsodium: Python `pynacl`. \
             Dovecot: `doveadm pw -t HASH -p PASSWORD` (libsodium), a whole process each, \
             beside a `{{PLAIN}}` verification's (the process start) and the difference; a \
             verification, because `doveadm pw -s ARGON2ID` cannot be given a memory cost (it \
             takes libsodium's preset for its rounds). Ratio: the crate's time over the other's \
             (below 1: the crate is faster)."
        ),
    );
    for cost in profiles() {
        let label = format!(
            "{} profile (m={} KiB, t={}, p={})",
            cost.name, cost.m, cost.t, cost.p
        );
        let stored = argon2_hash(PASSWORD, cost.m, cost.t, cost.p);
        let (mut ours, mut libargon2, mut sodium) = (Vec::new(), Vec::new(), Vec::new());
        // By version: [verification wall time, {PLAIN} wall time, difference].
        let mut dove: [[Vec<f64>; 3]; 2] = Default::default();
        for _ in 0..cfg().reps {
            ours.push(crate_ms(cost, count));
            libargon2.push(python_ms("argon2", cost, count));
            if cost.p == 1 {
                sodium.push(python_ms("sodium", cost, count));
            }
            for (i, version) in DovecotVersion::ALL.into_iter().enumerate() {
                let install = Install::of(version);
                let (argon, plain) = doveadm_ms(&install, &stored, count);
                dove[i][0].push(argon);
                dove[i][1].push(plain);
                dove[i][2].push(argon - plain);
            }
        }
        report.figure(&format!("{label}: argon2 crate"), "ms", &ours, None);
        report.figure(
            &format!("{label}: libargon2 (argon2-cffi)"),
            "ms",
            &libargon2,
            None,
        );
        report.figure(&format!("{label}: libsodium (pynacl)"), "ms", &sodium, None);
        for (i, version) in DovecotVersion::ALL.into_iter().enumerate() {
            let v = version.as_str();
            let [argon, plain, diff] = &dove[i];
            report.figure(
                &format!("{label}: Dovecot {v} `doveadm pw -t`, wall time"),
                "ms",
                argon,
                None,
            );
            let name =
                format!("{label}: Dovecot {v} `doveadm pw -t` of a {{PLAIN}} hash (process start)");
            report.figure(&name, "ms", plain, None);
            let name = format!("{label}: Dovecot {v} difference (the hash; noisy when small)");
            report.figure(&name, "ms", diff, None);
        }
        let ratio =
            |other: &[f64]| -> Vec<f64> { ours.iter().zip(other).map(|(a, b)| a / b).collect() };
        let r = ratio(&libargon2);
        report.figure(&format!("{label}: ratio crate / libargon2"), "×", &r, None);
        let r = ratio(&sodium);
        report.figure(&format!("{label}: ratio crate / libsodium"), "×", &r, None);
    }
}
