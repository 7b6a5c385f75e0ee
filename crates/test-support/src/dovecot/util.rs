//! Small helpers of the harness.

use std::net::TcpListener as StdTcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// Three distinct free loopback ports (another process may still grab one before Dovecot
/// binds it: `start` retries with new ports then).
pub(super) fn free_ports() -> [u16; 3] {
    let listeners: Vec<StdTcpListener> = (0..3)
        .map(|_| StdTcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    [ports[0], ports[1], ports[2]]
}

pub(super) fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub(super) fn random_hex(bytes: usize) -> String {
    use std::io::Read as _;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
