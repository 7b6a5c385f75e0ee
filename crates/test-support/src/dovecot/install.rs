//! Where each Dovecot version the tests run lives. 2.3 is the host's (Debian 12 packages,
//! `scripts/install-dovecot.sh`); 2.4 is Debian 13's real packages in a root folder built by
//! `scripts/install-dovecot24.sh` (outside the clone, `MAILKEYS_DOVECOT24_ROOT`, default
//! `/var/cache/mailkeys-test/dovecot-2.4`), run with `chroot ROOT …`. Dovecot in the root sees
//! only files under it, so everything an instance reads (configuration, certificates, a
//! SQLite database) is made under `ROOT/tmp` and named by its path inside the root.
//! A missing installation fails the test with the command that installs it; it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use mailkeys::dovecot::DovecotVersion;

pub const DEFAULT_2_4_ROOT: &str = "/var/cache/mailkeys-test/dovecot-2.4";

#[derive(Clone, Debug)]
pub struct Install {
    pub version: DovecotVersion,
    /// `/` for the host's Dovecot.
    root: PathBuf,
}

impl Install {
    /// The installation of `version`; panics with the install command when it is missing.
    pub fn of(version: DovecotVersion) -> Install {
        let install = match version {
            DovecotVersion::V2_3 => Install {
                version,
                root: PathBuf::from("/"),
            },
            DovecotVersion::V2_4 => Install {
                version,
                root: PathBuf::from(
                    std::env::var("MAILKEYS_DOVECOT24_ROOT")
                        .unwrap_or_else(|_| DEFAULT_2_4_ROOT.to_owned()),
                ),
            },
        };
        install.ensure_installed();
        install
    }

    fn ensure_installed(&self) {
        let hint = match self.version {
            DovecotVersion::V2_3 => "run scripts/install-dovecot.sh as root".to_owned(),
            DovecotVersion::V2_4 => format!(
                "run scripts/install-dovecot24.sh as root (builds the Debian 13 root {})",
                self.root.display()
            ),
        };
        let out = self
            .command("/usr/sbin/dovecot")
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("Dovecot {} is not installed ({e}): {hint}", self.version));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`dovecot --version` for {} failed ({}): {}{hint}",
            self.version,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            DovecotVersion::from_release(&text),
            Some(self.version),
            "expected Dovecot {} but found {text:?}: {hint}",
            self.version
        );
    }

    /// A program of the installation (`/usr/sbin/dovecot`, `/usr/bin/doveadm`), run inside
    /// the root where there is one.
    pub fn command(&self, program: &str) -> Command {
        if self.is_host() {
            Command::new(program)
        } else {
            let mut command = Command::new("chroot");
            command.arg(&self.root).arg(program);
            command
        }
    }

    /// Same as `command`, for tokio.
    pub fn async_command(&self, program: &str) -> tokio::process::Command {
        let std = self.command(program);
        let mut command = tokio::process::Command::new(std.get_program());
        command.args(std.get_args());
        command
    }

    fn is_host(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Where temporary folders this Dovecot must read are made.
    pub fn scratch_dir(&self) -> PathBuf {
        if self.is_host() {
            std::env::temp_dir()
        } else {
            self.root.join("tmp")
        }
    }

    /// A new temporary folder this Dovecot can read.
    pub fn tempdir(&self, prefix: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(self.scratch_dir())
            .expect("temporary directory for Dovecot")
    }

    /// The host's path of a file Dovecot sees as `inside` (`/etc/dovecot` of the root).
    pub fn host_path(&self, inside: &str) -> PathBuf {
        self.root.join(inside.trim_start_matches('/'))
    }

    /// Copies this version's stock `/etc/dovecot` to `to` (`cp -a`).
    pub fn copy_stock_etc(&self, to: &Path) {
        let copied = std::process::Command::new("cp")
            .arg("-a")
            .arg(self.host_path("/etc/dovecot"))
            .arg(to)
            .status()
            .unwrap();
        assert!(copied.success(), "copy of the stock /etc/dovecot");
    }

    /// The path Dovecot sees for a file of the host.
    pub fn inside(&self, host_path: &Path) -> String {
        if self.is_host() {
            return host_path.display().to_string();
        }
        let rest = host_path.strip_prefix(&self.root).unwrap_or_else(|_| {
            panic!(
                "{} is outside the Dovecot {} root {}: make it with Install::tempdir",
                host_path.display(),
                self.version,
                self.root.display()
            )
        });
        format!("/{}", rest.display())
    }
}
