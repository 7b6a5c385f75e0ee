//! The `mailkeys` binary, run as an operator would.

use std::path::PathBuf;

/// Runs the `mailkeys` binary as `configure` sets it up (arguments, environment), writing
/// `stdin` to it; returns (success, stdout, stderr).
pub fn run_mailkeys(
    configure: impl FnOnce(&mut std::process::Command),
    stdin: &str,
) -> (bool, String, String) {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut command = std::process::Command::new(mailkeys_binary());
    configure(&mut command);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Fails unless the command whose `out` this is failed and said `words` on stderr.
pub fn assert_failed_saying(out: &std::process::Output, words: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "succeeded; stderr:\n{stderr}");
    assert!(stderr.contains(words), "no {words:?} in stderr:\n{stderr}");
}

/// The `mailkeys` binary cargo built for the running test or benchmark: it sits beside the
/// `deps/` folder that holds the test's own executable (cargo builds a package's binaries
/// before its integration tests and benchmarks).
pub fn mailkeys_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps");
    let binary = profile_dir.join("mailkeys");
    assert!(
        binary.is_file(),
        "{} is missing: run the tests with cargo, which builds it",
        binary.display()
    );
    binary
}
