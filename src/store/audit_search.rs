//! Reading the audit log across accounts: the admin's filtered view and the exports, page
//! by page in id order (keyset pagination, so an export of millions of rows never holds one
//! long read), and the retention cleanup, the log's only deleter.

use serde::Serialize;
use sqlx::{Any, Executor, FromRow};

use super::Db;
use crate::domain::UserId;

/// What to look for; every part is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Entries about this account.
    pub subject: Option<UserId>,
    /// Entries by this account.
    pub actor: Option<UserId>,
    /// Stored event name (an `audit::Event`'s `as_str`).
    pub event: Option<&'static str>,
    /// At or after this Unix time.
    pub since: Option<i64>,
    /// Before this Unix time.
    pub until: Option<i64>,
    /// From this client address, exactly.
    pub ip: Option<String>,
}

/// One entry with the addresses of the accounts it names, as shown and exported.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub event: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}

/// Which way a page goes from its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first, ids below the cursor (the admin page).
    NewestFirst,
    /// Oldest first, ids above the cursor (exports: new entries arriving meanwhile come last).
    OldestFirst,
}

/// Up to `limit` entries matching `filter`, past the id `cursor` in `order`.
pub async fn page(
    db: &Db,
    filter: &AuditFilter,
    order: Order,
    cursor: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let mut clauses = Vec::new();
    let mut n = 0;
    let mut next = |column: &str, op: &str| {
        n += 1;
        clauses.push(format!("{column} {op} ${n}"));
    };
    if filter.subject.is_some() {
        next("l.subject_user_id", "=");
    }
    if filter.actor.is_some() {
        next("l.actor_user_id", "=");
    }
    if filter.event.is_some() {
        next("l.event", "=");
    }
    if filter.since.is_some() {
        next("l.at", ">=");
    }
    if filter.until.is_some() {
        next("l.at", "<");
    }
    if filter.ip.is_some() {
        next("l.ip", "=");
    }
    let (cursor_op, direction) = match order {
        Order::NewestFirst => ("<", "DESC"),
        Order::OldestFirst => (">", "ASC"),
    };
    if cursor.is_some() {
        next("l.id", cursor_op);
    }
    let limit_param = n + 1;
    let wheres = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT l.id, l.at, l.event, a.email AS actor, s.email AS subject, l.ip, l.detail \
         FROM audit_log l \
         LEFT JOIN users a ON a.id = l.actor_user_id \
         LEFT JOIN users s ON s.id = l.subject_user_id \
         {wheres} ORDER BY l.id {direction} LIMIT ${limit_param}"
    );
    let mut query = sqlx::query_as::<_, AuditEntry>(&sql);
    if let Some(id) = filter.subject {
        query = query.bind(id);
    }
    if let Some(id) = filter.actor {
        query = query.bind(id);
    }
    if let Some(event) = filter.event {
        query = query.bind(event);
    }
    if let Some(since) = filter.since {
        query = query.bind(since);
    }
    if let Some(until) = filter.until {
        query = query.bind(until);
    }
    if let Some(ip) = &filter.ip {
        query = query.bind(ip.clone());
    }
    if let Some(cursor) = cursor {
        query = query.bind(cursor);
    }
    query.bind(limit).fetch_all(&db.pool).await
}

/// Deletes the entries older than `cutoff`, inside the caller's transaction, which must
/// also record the cleanup's own entry. The database allows it only while `allowed_before`
/// is raised, and it is lowered again before this returns.
pub async fn delete_older_than(tx: &mut super::Tx, cutoff: i64) -> Result<u64, sqlx::Error> {
    set_allowed_before(&mut **tx, cutoff).await?;
    let deleted = sqlx::query("DELETE FROM audit_log WHERE at < $1")
        .bind(cutoff)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    set_allowed_before(&mut **tx, 0).await?;
    Ok(deleted)
}

async fn set_allowed_before<'e>(
    e: impl Executor<'e, Database = Any>,
    before: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE audit_cleanup SET allowed_before = $1 WHERE id = 1")
        .bind(before)
        .execute(e)
        .await?;
    Ok(())
}
