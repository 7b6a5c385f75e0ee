//! Getting a mail app set up: the QR code and the Apple configuration profile of a new
//! password (both carry the password, so they are made only for the show-once page), the
//! Thunderbird autoconfig file (servers only, never a password), and the admin's page of DNS
//! records that point mail apps at the servers.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::session::AdminUser;
use super::{AppState, Nav};
use crate::domain::mail_setup::{MailServers, Server};
use crate::domain::{Scope, Username};
use crate::error::{AppError, AppResult};

/// The QR code of `secret` as an inline SVG element (no XML declaration), dark on light
/// whatever the page's theme, with a quiet zone so phone cameras find it.
pub fn qr_svg(secret: &SecretString) -> AppResult<String> {
    use qrcode::render::svg;
    let code =
        qrcode::QrCode::new(secret.expose_secret().as_bytes()).map_err(AppError::internal)?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    let start = image.find("<svg").unwrap_or(0);
    Ok(image[start..].replacen(
        "<svg ",
        r#"<svg role="img" aria-labelledby="qr-caption" class="qr" "#,
        1,
    ))
}

#[derive(Template)]
#[template(path = "mail/profile.mobileconfig.xml")]
struct Profile<'a> {
    email: &'a str,
    name: &'a str,
    password: &'a str,
    servers: MailServers,
    /// Whether the password may send mail: only then does the outgoing server get it.
    smtp: bool,
    identifier: String,
    profile_uuid: String,
    mail_uuid: String,
}

/// An Apple configuration profile (`com.apple.mail.managed`) for the account `email` with
/// the app password `password`: iPhone, iPad and macOS set the mail account up from it.
pub fn profile_response(
    state: &AppState,
    email: &str,
    name: &str,
    scope: Scope,
    password: &SecretString,
) -> AppResult<Response> {
    let servers = state.settings.mail_client_servers();
    let profile_uuid = uuid::Uuid::new_v4().to_string().to_uppercase();
    let identifier = format!(
        "mailkeys.{}.{}",
        servers.imap.host.trim_end_matches('.'),
        profile_uuid.to_lowercase()
    );
    let profile = Profile {
        email,
        name,
        password: password.expose_secret(),
        servers,
        smtp: scope == Scope::ImapAndSmtp,
        identifier,
        profile_uuid,
        mail_uuid: uuid::Uuid::new_v4().to_string().to_uppercase(),
    };
    let body = profile.render().map_err(AppError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-apple-aspen-config"),
            (
                header::CONTENT_DISPOSITION,
                r#"attachment; filename="mailkeys.mobileconfig""#,
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "mail/autoconfig.xml")]
struct Autoconfig {
    domain: String,
    imap: Server,
    smtp: Server,
}

#[derive(Deserialize)]
pub struct AutoconfigQuery {
    /// Thunderbird sends the address being set up; its domain names the provider.
    #[serde(default)]
    emailaddress: String,
}

/// Thunderbird's autoconfig file (`/.well-known/autoconfig/mail/config-v1.1.xml` and
/// `/mail/config-v1.1.xml` for an `autoconfig.` host): the servers, with
/// `%EMAILADDRESS%` as the username, and never a password.
pub async fn autoconfig(
    State(state): State<AppState>,
    Query(query): Query<AutoconfigQuery>,
) -> AppResult<Response> {
    let servers = state.settings.mail_client_servers();
    let domain = Username::parse(&query.emailaddress)
        .ok()
        .and_then(|user| user.as_str().rsplit_once('@').map(|(_, d)| d.to_owned()))
        .unwrap_or_else(|| servers.imap.host.clone());
    let body = Autoconfig {
        domain,
        imap: servers.imap,
        smtp: servers.smtp,
    }
    .render()
    .map_err(AppError::internal)?;
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/mail_setup.page.html")]
pub struct MailSetupPage {
    pub nav: Nav,
    pub servers: MailServers,
    /// Each mail domain of the accounts, with its SRV records.
    pub domains: Vec<(String, Vec<String>)>,
    pub autoconfig_url: String,
}

/// The admin's page of what to publish in DNS so mail apps find the servers by themselves.
pub async fn admin_page(
    State(state): State<AppState>,
    AdminUser(current): AdminUser,
) -> AppResult<MailSetupPage> {
    let servers = state.settings.mail_client_servers();
    let mut domains: Vec<String> = crate::store::users::list(&state.db)
        .await?
        .into_iter()
        .filter_map(|user| user.email.rsplit_once('@').map(|(_, d)| d.to_owned()))
        .collect();
    domains.sort_unstable();
    domains.dedup();
    let domains = domains
        .into_iter()
        .map(|domain| {
            let records = servers.srv_records(&domain);
            (domain, records)
        })
        .collect();
    Ok(MailSetupPage {
        nav: Nav::of(&current),
        autoconfig_url: format!(
            "{}/.well-known/autoconfig/mail/config-v1.1.xml",
            state.settings.base_url()
        ),
        servers,
        domains,
    })
}
