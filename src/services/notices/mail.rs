//! A queued notice as a mail: subject, a plain-text and an HTML part from the templates
//! under `templates/notices/`. The wording of each kind is `Notice::summary` and
//! `Notice::advice`, shared by both parts; the templates lay it out with the time, the
//! client address and the links.

use askama::Template;
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use time::macros::format_description;
use time::OffsetDateTime;

use super::Notice;

#[derive(Template)]
#[template(path = "notices/mail.txt")]
struct TextBody<'a> {
    mail: &'a Parts<'a>,
}

#[derive(Template)]
#[template(path = "notices/mail.html")]
struct HtmlBody<'a> {
    mail: &'a Parts<'a>,
}

/// What both parts say.
struct Parts<'a> {
    account: &'a str,
    subject: String,
    summary: String,
    advice: &'static str,
    /// When the change happened, in UTC.
    when: String,
    ip: Option<&'a str>,
    account_url: String,
}

/// `at` (Unix seconds) as `2026-05-01 14:03:07 UTC`.
pub fn utc(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| at.to_string())
}

/// The mail of `notice`, which happened at `at` from `ip`, to `to`. `base_url`: where the
/// web UI is reached, for the link to the account page.
pub fn message(
    from: &Mailbox,
    to: &str,
    notice: &Notice,
    at: i64,
    ip: Option<&str>,
    base_url: &str,
) -> anyhow::Result<Message> {
    let parts = Parts {
        account: to,
        subject: notice.subject(),
        summary: notice.summary(),
        advice: notice.advice(),
        when: utc(at),
        ip,
        account_url: format!("{base_url}/account"),
    };
    let text = TextBody { mail: &parts }.render()?;
    let html = HtmlBody { mail: &parts }.render()?;
    Ok(Message::builder()
        .from(from.clone())
        .to(to.parse()?)
        .subject(format!("Mailkeys: {}", parts.subject))
        .multipart(MultiPart::alternative_plain_html(text, html))?)
}
