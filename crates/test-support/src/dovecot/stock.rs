//! `DovecotOptions::stock_layout`: the distribution's own `/etc/dovecot` (Debian 12's for
//! 2.3, Debian 13's for 2.4), copied, with the generated files installed the way
//! deploy/dovecot/README.md says (where each file goes, other passdbs disabled), plus a
//! `local.conf` (which the stock `dovecot.conf` includes last) that only moves the instance
//! to test paths, ports, certificate and a static userdb for the virtual test users.

use std::path::{Path, PathBuf};

use mailkeys::dovecot::DovecotVersion;

use super::files::{instance_settings, mailkeys_config, uncomment_block, write_rendered};
use super::util::set_mode;
use super::{DovecotOptions, Install};

pub(super) fn write_stock_config(
    install: &Install,
    root: &Path,
    opts: &DovecotOptions,
    [imap_port, imaps_port, doveadm_port]: [u16; 3],
    doveadm_api_key: &str,
) -> PathBuf {
    assert!(
        opts.baseline_passwd_file.is_none() && opts.generated.is_none(),
        "stock_layout installs the generated files itself"
    );
    let etc = root.join("etc-dovecot");
    if !etc.exists() {
        install.copy_stock_etc(&etc);
    }
    // mailkeys dovecot config --version V --etc-dir /etc/dovecot --out GENERATED, then the
    // README's install step.
    let generated = root.join("generated");
    let config = mailkeys_config(
        install,
        opts,
        install.inside(&etc),
        doveadm_port,
        doveadm_api_key,
    );
    write_rendered(&config, &generated);
    let mut installs = vec!["conf.d/90-mailkeys.conf"];
    if install.version == DovecotVersion::V2_3 {
        installs.extend([
            "dovecot-sql-mailkeys-app.conf.ext",
            "dovecot-sql-mailkeys-main.conf.ext",
        ]);
    }
    for file in installs {
        let to = etc.join(file);
        std::fs::copy(generated.join(file), &to).unwrap();
        set_mode(&to, 0o640);
    }
    // The README's step 5: no passdb but Mailkeys'.
    match install.version {
        DovecotVersion::V2_3 => {
            let auth = etc.join("conf.d/10-auth.conf");
            let text = std::fs::read_to_string(&auth).unwrap();
            let include = "!include auth-system.conf.ext";
            assert!(
                text.lines().any(|l| l == include),
                "the stock 10-auth.conf includes auth-system.conf.ext"
            );
            let text: String = text
                .lines()
                .map(|l| {
                    if l == include {
                        format!("#{l}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            std::fs::write(&auth, text).unwrap();
        }
        DovecotVersion::V2_4 => {
            let main = etc.join("conf.d/90-mailkeys.conf");
            let text = std::fs::read_to_string(&main).unwrap();
            std::fs::write(&main, uncomment_block(&text, "passdb pam {")).unwrap();
        }
    }
    std::fs::write(
        etc.join("local.conf"),
        local_conf(
            install,
            root,
            &instance_settings(install, root, opts, imap_port, imaps_port),
        ),
    )
    .unwrap();
    etc.join("dovecot.conf")
}

/// Test paths, ports, certificate, logging, and a userdb that knows the virtual test users:
/// the `instance` settings, and what the stock layout needs besides.
fn local_conf(install: &Install, root: &Path, instance: &str) -> String {
    let mut conf =
        "# Test instance (mailkeys-test-support, dovecot/stock.rs).\n".to_owned() + instance;
    if install.version == DovecotVersion::V2_4 {
        // Debian 13's 10-mail.conf keeps mail in mbox under /home and /var/mail.
        let r = install.inside(root);
        conf.push_str(&format!(
            "mail_inbox_path =\nmail_home = {r}/home/%{{user}}\n"
        ));
    }
    conf
}
