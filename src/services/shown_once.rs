//! Creating an app password for the web UI, where the plaintext must survive one redirect
//! (post/redirect/get) and be shown once: it is sealed under the browser session's cookie
//! token (`infra::sealing`) and held for minutes in `shown_once`, bound to that session.
//! The show-once page takes it once; the Apple profile download takes it once more from
//! that page, and removes it.

use secrecy::SecretString;

use crate::domain::AppPasswordId;
use crate::error::{AppError, AppResult};
use crate::infra::sealing;
use crate::services::credentials::{self, Actor, NewPassword, NotCreated};
use crate::services::Services;
use crate::store::app_passwords::{self, AppPasswordRow};
use crate::store::shown_once::{self, Held};
use crate::store::users::UserRow;

/// How long a new password waits for its page (and the profile download) after creation.
pub const HOLD_SECS: i64 = 10 * 60;

/// The browser session the password is held for: its cookie token (the key, never
/// stored) and the token's digest (the row's key).
pub struct BrowserSession<'a> {
    pub token: &'a SecretString,
    pub digest: &'a str,
}

fn binding(id: AppPasswordId) -> String {
    format!("app password {id}")
}

/// Creates the app password (see `credentials::create`) and holds its plaintext, sealed,
/// for `session`'s show-once page.
pub async fn create(
    state: &Services,
    owner: &UserRow,
    new: &NewPassword,
    actor: Actor<'_>,
    session: &BrowserSession<'_>,
) -> AppResult<Result<AppPasswordId, NotCreated>> {
    let created = match credentials::create(state, owner, new, actor).await? {
        Ok(created) => created,
        Err(refused) => return Ok(Err(refused)),
    };
    let sealed = sealing::seal(session.token, &binding(created.id), &created.plaintext)
        .map_err(AppError::internal)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    shown_once::purge_expired(&mut *tx, now).await?;
    shown_once::insert(
        &mut *tx,
        Held {
            session_hash: session.digest,
            app_password_id: created.id,
            sealed: &sealed,
            now,
            expires_at: now + HOLD_SECS,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(created.id))
}

/// Which use of the held password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// The show-once page: the first time only.
    Page,
    /// The Apple profile: once, after the page, while the password is live.
    Profile,
}

/// The held password of `owner`'s app password `id` for `session`, if it is still there
/// for `take`; `NotFound` when the app password is not the owner's.
pub async fn take(
    state: &Services,
    owner: &UserRow,
    id: AppPasswordId,
    session: &BrowserSession<'_>,
    take: Take,
) -> AppResult<(AppPasswordRow, Option<SecretString>)> {
    let Some(row) = app_passwords::find_for_user(&state.db, owner.id, id).await? else {
        return Err(AppError::NotFound);
    };
    let now = state.now();
    shown_once::purge_expired(&state.db.pool, now).await?;
    let sealed = match take {
        Take::Page => shown_once::take_for_page(&state.db, session.digest, id, now).await?,
        Take::Profile => shown_once::take_for_profile(&state.db, session.digest, id, now).await?,
    };
    let live = row.revoked_at.is_none() && !matches!(row.expires_at, Some(at) if at <= now);
    let plaintext = sealed
        .filter(|_| live)
        .and_then(|sealed| sealing::open(session.token, &binding(id), &sealed));
    Ok((row, plaintext))
}
