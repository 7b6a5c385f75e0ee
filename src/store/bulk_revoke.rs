//! The rows a bulk revocation works on: live app passwords matching an admin's filters,
//! read in id order a page at a time, and revoked a batch at a time, so that no statement
//! holds a long lock however many match.

use sqlx::FromRow;

use super::{Db, Tx};
use crate::domain::{AppPasswordId, UserId};

/// The filters the database applies (an address range is checked by the caller).
#[derive(Debug, Clone, Default)]
pub struct SqlFilter {
    pub created_before: Option<i64>,
    /// Not used (or, never used, not created) since this time.
    pub idle_since: Option<i64>,
    /// Accounts whose address ends with `@` and this domain.
    pub domain: Option<String>,
    /// A stored scope (`imap`, `imap+smtp`).
    pub scope: Option<&'static str>,
    /// Only passwords with a recorded last use (an address filter needs one).
    pub used: bool,
    /// Only accounts that are not admins (an admin acts on users only; `domain::Role`).
    pub users_only: bool,
}

#[derive(Debug, Clone, FromRow)]
pub struct Candidate {
    pub id: AppPasswordId,
    pub user_id: UserId,
    pub email: String,
    pub last_used_ip: Option<String>,
}

/// Up to `limit` live app passwords matching `f` with ids above `after`.
pub async fn page(
    db: &Db,
    f: &SqlFilter,
    now: i64,
    after: Option<AppPasswordId>,
    limit: i64,
) -> Result<Vec<Candidate>, sqlx::Error> {
    let mut sql = String::from(
        "SELECT a.id, a.user_id, u.email, a.last_used_ip FROM app_passwords a \
         JOIN users u ON u.id = a.user_id \
         WHERE a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > $1) AND a.id > $2",
    );
    let mut n = 2;
    let mut clause = |text: &str| {
        n += 1;
        sql.push_str(&text.replace('?', &format!("${n}")));
    };
    if f.created_before.is_some() {
        clause(" AND a.created_at < ?");
    }
    if f.idle_since.is_some() {
        clause(" AND COALESCE(a.last_used_at, a.created_at) < ?");
    }
    if f.domain.is_some() {
        clause(" AND u.email LIKE ?");
    }
    if f.scope.is_some() {
        clause(" AND a.scope = ?");
    }
    if f.used {
        sql.push_str(" AND a.last_used_ip IS NOT NULL");
    }
    if f.users_only {
        sql.push_str(" AND NOT u.is_admin");
    }
    sql.push_str(&format!(" ORDER BY a.id LIMIT ${}", n + 1));
    let mut query = sqlx::query_as::<_, Candidate>(&sql)
        .bind(now)
        .bind(after.map_or(0, |id| id.0));
    if let Some(t) = f.created_before {
        query = query.bind(t);
    }
    if let Some(t) = f.idle_since {
        query = query.bind(t);
    }
    if let Some(domain) = &f.domain {
        query = query.bind(format!("%@{domain}"));
    }
    if let Some(scope) = f.scope {
        query = query.bind(scope);
    }
    query.bind(limit).fetch_all(&db.pool).await
}

/// Revokes the live ones among `ids`; returns how many.
pub async fn revoke(
    tx: &mut Tx,
    ids: &[AppPasswordId],
    by: Option<UserId>,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let params: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "UPDATE app_passwords SET revoked_at = $1, revoked_by = $2, revoked_reason = $3 \
         WHERE revoked_at IS NULL AND id IN ({})",
        params.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(now).bind(by).bind(reason);
    for id in ids {
        query = query.bind(*id);
    }
    Ok(query.execute(&mut **tx).await?.rows_affected())
}
