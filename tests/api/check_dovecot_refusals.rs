//! Real Dovecot (2.3 and 2.4) turning an account away with a reason: the passdb's `nologin`
//! and `reason=` extra fields, as an admin disables an account or marks its password
//! expired. The connection test must name the server's reason and never blame the
//! password, although Mailkeys knows the typed password is not one of the account's.

use crate::check_dovecot::{app_alone, check, imaps};
use crate::dovecot::{Dovecot, DovecotOptions, DovecotVersion};
use crate::each_version;
use mailkeys_test_support::prelude::*;
use serde_json::Value;

const PASSWORD: &str = "the-password-dovecot-knows";

/// A Dovecot whose passwd-file passdb knows alice with `PASSWORD` and these extra fields,
/// and a check of it as alice with `PASSWORD`. A passwd-file's extra fields hold no spaces,
/// so reasons are written with underscores (Dovecot sends `NO [CONTACTADMIN] <reason>`).
async fn check_with_extra_fields(version: DovecotVersion, fields: &str) -> (Dovecot, Value) {
    let mut opts = DovecotOptions::baseline(version, vec![(ALICE.into(), PASSWORD.into())]);
    opts.baseline_extra_fields = vec![(ALICE.into(), fields.into())];
    let dovecot = Dovecot::start(opts).await;
    let (app, browser) = app_alone(vec![imaps(&dovecot)]).await;
    let checked = check(&app, &browser, "IMAPS", PASSWORD).await;
    (dovecot, checked.report)
}

fn advice_never_blames_the_password(report: &Value) {
    let advice = report["verdict"]["advice"].as_str().unwrap();
    for words in [
        "Caps Lock",
        "paste",
        "Paste",
        "retype",
        "Copy your app password",
    ] {
        assert!(!advice.contains(words), "{words:?} in {advice}");
    }
}

async fn a_disabled_account_is_named_and_the_password_not_blamed(version: DovecotVersion) {
    let (dovecot, report) = check_with_extra_fields(
        version,
        "nologin reason=Your_account_is_disabled,_contact_support",
    )
    .await;
    assert_eq!(
        report["verdict"]["kind"],
        "account_disabled",
        "{report:#}\n{}",
        dovecot.log()
    );
    assert!(report["verdict"]["title"]
        .as_str()
        .unwrap()
        .contains("Your_account_is_disabled"));
    assert_eq!(report["proven"]["kind"], "refused_for_another_reason");
    advice_never_blames_the_password(&report);
}
each_version!(a_disabled_account_is_named_and_the_password_not_blamed);

async fn an_expired_password_is_named_as_such(version: DovecotVersion) {
    let (dovecot, report) =
        check_with_extra_fields(version, "nologin reason=Your_password_has_expired").await;
    assert_eq!(
        report["verdict"]["kind"],
        "password_expired",
        "{report:#}\n{}",
        dovecot.log()
    );
    assert_eq!(report["proven"]["kind"], "password_refused");
    advice_never_blames_the_password(&report);
}
each_version!(an_expired_password_is_named_as_such);
