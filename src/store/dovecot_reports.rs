//! When Dovecot's policy reports last arrived, accepted or refused for a wrong secret.

use super::Db;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    Accepted,
    /// Refused: the shared secret header was wrong or missing.
    Refused,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Refused => "refused",
        }
    }
}

pub async fn record(db: &Db, kind: ReportKind, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO dovecot_reports (kind, last_at) VALUES ($1, $2) \
         ON CONFLICT (kind) DO UPDATE SET last_at = $2",
    )
    .bind(kind.as_str())
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn last(db: &Db, kind: ReportKind) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT last_at FROM dovecot_reports WHERE kind = $1")
        .bind(kind.as_str())
        .fetch_optional(&db.pool)
        .await
}
