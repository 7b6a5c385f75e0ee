//! The benchmark's passwd-file baselines (`DovecotOptions::baseline`): besides `{PLAIN}`
//! (dovecot_config.rs), a file holding a stored Argon2id hash as Mailkeys writes it, which
//! Dovecot must verify as that hash, on 2.3 and 2.4.

use mailkeys::config::Settings;
use mailkeys::infra::hashing::{Hasher, Profile};
use secrecy::SecretString;

use crate::dovecot::{Dovecot, DovecotOptions, DovecotVersion};
use crate::each_version;

async fn a_hashed_baseline_verifies_the_stored_argon2id_hash(version: DovecotVersion) {
    let settings = Settings::default();
    let hasher = Hasher::new(settings.main_profile(), settings.app_profile(), 1).unwrap();
    let password = "bench hashed password";
    let hash = hasher
        .hash(Profile::App, SecretString::from(password))
        .await
        .unwrap();
    assert!(hash.starts_with("{ARGON2ID}$argon2id$"), "{hash}");
    let dovecot = Dovecot::start(DovecotOptions {
        baseline_hashed: true,
        ..DovecotOptions::baseline(version, vec![("h@example.org".into(), hash.clone())])
    })
    .await;
    dovecot
        .imaps_login("127.0.0.1", "h@example.org", password)
        .await
        .unwrap_or_else(|e| panic!("hashed baseline login: {e}\n{}", dovecot.log()));
    // The hash is the stored password, not a plaintext one.
    for wrong in [hash.as_str(), "bench other password"] {
        assert!(
            dovecot
                .imaps_login("127.0.0.2", "h@example.org", wrong)
                .await
                .is_err(),
            "{wrong} must be refused"
        );
    }
}
each_version!(a_hashed_baseline_verifies_the_stored_argon2id_hash);
