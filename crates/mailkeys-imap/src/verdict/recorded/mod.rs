//! Recorded answers of real IMAP servers, each with where it was found, and the verdict
//! it must give. Each row is one situation: a server's answer at a step, and what Mailkeys
//! knows of the typed password. Every row asserts the verdict's kind, and that its advice
//! only asks to retype or check the password when the server's answer or Mailkeys' own
//! knowledge points at the password.

mod providers;
mod servers;

use super::*;
use crate::report::Step;

pub(super) const AT: i64 = 1_740_000_000;

pub(super) struct Case {
    pub(super) source: &'static str,
    pub(super) step: Step,
    pub(super) answer: StepFailure,
    pub(super) known: KnownCredential,
    pub(super) kind: &'static str,
    pub(super) may_blame_password: bool,
}

pub(super) fn no(code: Option<&str>, text: &str) -> StepFailure {
    StepFailure::Refused {
        bad: false,
        code: code.map(str::to_owned),
        text: text.to_owned(),
    }
}

pub(super) fn bad(code: Option<&str>, text: &str) -> StepFailure {
    StepFailure::Refused {
        bad: true,
        code: code.map(str::to_owned),
        text: text.to_owned(),
    }
}

pub(super) fn bye(code: Option<&str>, text: &str) -> StepFailure {
    StepFailure::Bye {
        code: code.map(str::to_owned),
        text: text.to_owned(),
    }
}

/// Words of advice that send the user back to the password itself.
const RETYPE: &[&str] = &[
    "Caps Lock",
    "paste",
    "Paste",
    "retype",
    "Retype",
    "Type the password",
    "type it",
    "check the password",
    "Copy your app password",
];

fn cases() -> Vec<Case> {
    let mut cases = providers::cases();
    cases.extend(servers::cases());
    cases
}

#[test]
fn recorded_server_answers_give_the_right_verdict_and_blame_the_password_only_when_justified() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} situations", cases.len());
    let mut wrong = Vec::new();
    for case in cases {
        let facts = Facts {
            failure: Some(Failure {
                step: case.step,
                what: case.answer.clone(),
            }),
            messages: None,
        };
        let verdict = classify(&facts, &case.known);
        let what = format!("{:?} with {:?} ({})", case.answer, case.known, case.source);
        if verdict.kind() != case.kind {
            wrong.push(format!(
                "{what}: {} instead of {}",
                verdict.kind(),
                case.kind
            ));
            continue;
        }
        let advice = verdict.advice();
        if !case.may_blame_password {
            let blamed: Vec<_> = RETYPE.iter().filter(|w| advice.contains(**w)).collect();
            assert!(
                blamed.is_empty(),
                "{what}: advice says {blamed:?}: {advice}"
            );
            // The right main password refused is still a refused password, said as such.
            if verdict != Verdict::MainPasswordRefusedAlthoughAllowed {
                assert_ne!(
                    proven(&facts, &verdict),
                    Proven::PasswordRefused,
                    "{what}: said the password was refused"
                );
            }
        }
        assert!(case.source.starts_with("https://"), "{what}: no source");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_recorded_situations_are_distinct() {
    let cases = cases();
    for (i, a) in cases.iter().enumerate() {
        for b in &cases[i + 1..] {
            assert!(
                !(a.step == b.step && a.answer == b.answer && a.known == b.known),
                "the same situation twice: {:?} ({} and {})",
                a.answer,
                a.source,
                b.source
            );
        }
    }
}
