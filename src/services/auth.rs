//! Signing in and out of the web UI: the attempt count (`attempts`: per account and per
//! client address, decided before any hashing), the password check (an unknown address
//! costs the same hash as a known one), browser sessions, and their audit entries.

use secrecy::SecretString;

use super::attempts::{self, Admission};
use super::credentials::Actor;
use super::devices;
use super::Services;
use crate::domain::password_policy;
use crate::domain::second_factor::SessionStage;
use crate::domain::{UserId, Username};
use crate::error::{AppError, AppResult};
use crate::infra::metrics::SignInOutcome;
use crate::infra::random::{random_token, token_digest};
use crate::store::audit::{self, Entry, Event};
use crate::store::second_factors;
use crate::store::sessions::{self, NewSession};
use crate::store::users;
use crate::store::users::UserRow;

/// The outcome of a sign-in attempt.
pub enum SignIn {
    /// Signed in: `token` is the new session's, for the cookie; `device_token`, when set,
    /// is a new device cookie for a browser that had none (see `devices`).
    Welcome {
        user: UserRow,
        token: String,
        device_token: Option<String>,
    },
    /// The password was right and the account has a second factor: `token` is a session
    /// that grants nothing but the second-factor step.
    SecondFactor { token: String },
    /// Refused before any hashing: too many failures for this address; try in `wait_secs`.
    Locked { wait_secs: i64 },
    /// Wrong address or password, or a disabled account: the same answer for each.
    Refused,
}

/// Checks a typed address and password and, when they are right, starts a session
/// (replacing the one whose token the browser still had). The count is keyed by what was
/// typed, known account or not, so a lock reveals nothing. Writes: the attempt's place in
/// the counts before hashing, then one transaction (counts, session, audit) on success or
/// one audit row on failure; nothing at all when refused by a lock.
pub async fn sign_in(
    state: &Services,
    typed_email: &str,
    password: SecretString,
    ip: &str,
    replaced_token: Option<&str>,
    device: Option<&str>,
) -> AppResult<SignIn> {
    let attempt = match attempts::admit(state, typed_email, ip).await? {
        Admission::Granted(attempt) => attempt,
        Admission::Locked { wait_secs } => {
            state.metrics.sign_in(SignInOutcome::Locked);
            return Ok(SignIn::Locked { wait_secs });
        }
    };
    let found = match Username::parse(typed_email) {
        Ok(name) => users::find_with_hash(&state.db, name.as_str()).await?,
        Err(_) => None,
    };
    let (user, stored) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    // Over-long input is refused without hashing, the same way for every account.
    let matched = password_policy::within_max_length(&password)
        && state
            .hasher
            .verify(password, stored)
            .await
            .map_err(AppError::internal)?;
    let now = state.now();
    match user {
        Some(user) if matched && !user.disabled => {
            let owes_factor = second_factors::has_factor(&state.db.pool, user.id).await?;
            let stage = if owes_factor {
                SessionStage::Pending
            } else {
                SessionStage::Full
            };
            let (token, session) = new_session(user.id, ip, now, stage)?;
            let mut tx = state.db.begin().await?;
            if owes_factor {
                // Not proven yet: the account's count is not reset (a thief with the
                // password must not get fresh tries at the code with every sign-in); this
                // attempt is only taken back.
                attempt.given_back(&mut tx).await?;
            } else {
                attempt.succeeded(&mut tx).await?;
            }
            if let Some(old) = replaced_token {
                sessions::delete(&mut *tx, &token_digest(old)).await?;
            }
            sessions::insert(&mut *tx, session.as_new()).await?;
            if owes_factor {
                tx.commit().await?;
                return Ok(SignIn::SecondFactor { token });
            }
            users::touch_activity(&mut *tx, user.id, now).await?;
            let entry = Entry {
                actor: Some(user.id),
                subject: Some(user.id),
                event: Event::SignIn,
                detail: String::new(),
                ip: Some(ip),
            };
            audit::record(&mut *tx, entry, now).await?;
            let device_token = devices::signed_in(state, &mut tx, &user, device, ip).await?;
            tx.commit().await?;
            state.metrics.sign_in(SignInOutcome::Success);
            Ok(SignIn::Welcome {
                user,
                token,
                device_token,
            })
        }
        _ => {
            state.metrics.sign_in(SignInOutcome::Refused);
            let subject = user.as_ref().map(|u| u.id);
            let mut detail = match attempt.failures {
                1 => "1 failure in a row".to_owned(),
                n => format!("{n} failures in a row"),
            };
            if subject.is_none() {
                detail.push_str(", unknown account");
            }
            let entry = Entry {
                actor: None,
                subject,
                event: Event::SignInFailed,
                detail,
                ip: Some(ip),
            };
            let key = attempt.account_key();
            if user.is_some() && attempt.starts_lock() {
                // The lock's notice goes with the failure that started it. On the attempts'
                // own connections, like the count, so a flood does not queue for the pages'.
                let mut tx = state.db.attempts.begin().await?;
                audit::record_failed_attempt(&mut *tx, entry, key, now).await?;
                attempt.failed(state, &mut tx, user.as_ref(), ip).await?;
                tx.commit().await?;
            } else {
                // The common failure: one insert, no transaction.
                audit::record_failed_attempt(&state.db.attempts, entry, key, now).await?;
            }
            Ok(SignIn::Refused)
        }
    }
}

/// The failed attempts made with `typed_address` (an account or not), newest first: what an
/// admin can see of them, although the typed text itself was never stored.
pub async fn failed_attempts_for(
    state: &Services,
    typed_address: &str,
    limit: i64,
) -> AppResult<Vec<audit::AuditRow>> {
    let key = state.attempt_keys.account(typed_address);
    Ok(audit::failed_attempts_for_key(&state.db, &key, limit).await?)
}

/// A fresh session's token (for the cookie) and what the database keeps of it.
pub(super) struct FreshSession {
    id_hash: String,
    csrf: String,
    user_id: UserId,
    now: i64,
    ip: String,
    stage: SessionStage,
}

impl FreshSession {
    pub(super) fn as_new(&self) -> NewSession<'_> {
        NewSession {
            id_hash: &self.id_hash,
            user_id: self.user_id,
            csrf_token: &self.csrf,
            now: self.now,
            ip: Some(&self.ip),
            stage: self.stage,
            // A full session starts with its second factor just given (or none to give).
            verified_at: match self.stage {
                SessionStage::Full => self.now,
                SessionStage::Pending => 0,
            },
        }
    }
}

pub(super) fn new_session(
    user_id: UserId,
    ip: &str,
    now: i64,
    stage: SessionStage,
) -> AppResult<(String, FreshSession)> {
    let token = random_token().map_err(AppError::internal)?;
    let fresh = FreshSession {
        id_hash: token_digest(&token),
        csrf: random_token().map_err(AppError::internal)?,
        user_id,
        now,
        ip: ip.to_owned(),
        stage,
    };
    Ok((token, fresh))
}

/// A new browser session for `user_id` (a new id every time: no fixation), replacing the
/// one whose token the browser still had. Returns the token for the cookie; the database
/// keeps only its digest.
pub async fn start_session(
    state: &Services,
    user_id: UserId,
    replaced_token: Option<&str>,
    ip: &str,
) -> AppResult<String> {
    let (token, session) = new_session(user_id, ip, state.now(), SessionStage::Full)?;
    let mut tx = state.db.begin().await?;
    if let Some(old) = replaced_token {
        sessions::delete(&mut *tx, &token_digest(old)).await?;
    }
    sessions::insert(&mut *tx, session.as_new()).await?;
    tx.commit().await?;
    Ok(token)
}

/// Ends the session with this digest.
pub async fn sign_out(state: &Services, session_digest: &str, actor: Actor<'_>) -> AppResult<()> {
    sessions::delete(&state.db.pool, session_digest).await?;
    audit::record(
        &state.db.pool,
        actor.entry(actor.user_id, Event::SignOut, String::new()),
        state.now(),
    )
    .await?;
    Ok(())
}

/// Ends every browser session of the acting user, the current one included.
pub async fn sign_out_everywhere(state: &Services, actor: Actor<'_>) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let ended = sessions::delete_for_user(&mut *tx, actor.user_id, None).await?;
    audit::record(
        &mut *tx,
        actor.entry(
            actor.user_id,
            Event::SessionsEnded,
            format!("{ended} browser sessions ended by the user"),
        ),
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
