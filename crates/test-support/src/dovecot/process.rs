//! The Dovecot master process of an instance: waiting until it serves, reading its log,
//! stopping it.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpStream;

pub(super) fn read_log(log_path: &Path, stderr_path: &Path) -> String {
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
    if stderr.trim().is_empty() {
        log
    } else {
        format!("{log}\n--- stderr ---\n{stderr}")
    }
}

pub(super) fn stop_child(mut child: Child) {
    // SIGTERM lets the master stop its children (login, auth, imap) before it exits.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
        }
    }
}

pub(super) async fn wait_ready(
    child: &mut Child,
    address: Ipv4Addr,
    [imap_port, imaps_port, doveadm_port]: [u16; 3],
    log_path: &Path,
    stderr_path: &Path,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!(
                "dovecot exited with {status}:\n{}",
                read_log(log_path, stderr_path)
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "dovecot not listening after 30 s:\n{}",
                read_log(log_path, stderr_path)
            ));
        }
        if ports_ready(address, imap_port, imaps_port, doveadm_port).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn ports_ready(
    address: Ipv4Addr,
    imap_port: u16,
    imaps_port: u16,
    doveadm_port: u16,
) -> bool {
    for (address, port) in [(address, imaps_port), (Ipv4Addr::LOCALHOST, doveadm_port)] {
        if TcpStream::connect((address, port)).await.is_err() {
            return false;
        }
    }
    // The plaintext port answers with a greeting once a login process serves it.
    let Ok(stream) = TcpStream::connect((address, imap_port)).await else {
        return false;
    };
    let mut line = String::new();
    let mut reader = BufReader::new(stream);
    matches!(
        tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await,
        Ok(Ok(n)) if n > 0 && line.starts_with("* OK")
    )
}
