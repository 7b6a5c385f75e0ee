//! The admin's account list at any size: a search by address (a substring, which includes a
//! prefix), flag filters, sorted by address or by last activity, in pages continued from the
//! last row shown (keyset), with live-password counts for that page only.

use sqlx::FromRow;

use super::users::UserRow;
use super::Db;
use crate::domain::UserId;

/// Which accounts to list.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AccountFilter {
    #[default]
    All,
    Admins,
    Disabled,
    MustReset,
    /// Accounts whose main password works for IMAP.
    MainImap,
}

impl AccountFilter {
    fn clause(self) -> &'static str {
        match self {
            Self::All => "",
            Self::Admins => " AND is_admin",
            Self::Disabled => " AND disabled",
            Self::MustReset => " AND must_reset",
            Self::MainImap => " AND main_imap_allowed AND NOT main_imap_admin_blocked",
        }
    }
}

/// The order of the list.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AccountSort {
    #[default]
    Address,
    /// Most recently active first.
    Activity,
}

/// Where a page continues: after this row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Address(String),
    Activity { at: i64, id: UserId },
}

#[derive(Debug, Clone, FromRow)]
pub struct AccountRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub last_activity_at: i64,
}

/// LIKE's wildcards and escape taken literally.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// One page of accounts.
pub async fn page(
    db: &Db,
    search: &str,
    filter: AccountFilter,
    sort: AccountSort,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    let mut sql = format!(
        "SELECT {}, last_activity_at FROM users WHERE email LIKE $1 ESCAPE '\\'{}",
        super::users::columns(),
        filter.clause()
    );
    let order = match (sort, after) {
        (AccountSort::Address, Some(_)) => {
            sql.push_str(" AND email > $2");
            " ORDER BY email LIMIT $3"
        }
        (AccountSort::Address, None) => " ORDER BY email LIMIT $2",
        (AccountSort::Activity, Some(_)) => {
            sql.push_str(" AND (last_activity_at < $2 OR (last_activity_at = $2 AND id < $3))");
            " ORDER BY last_activity_at DESC, id DESC LIMIT $4"
        }
        (AccountSort::Activity, None) => " ORDER BY last_activity_at DESC, id DESC LIMIT $2",
    };
    sql.push_str(order);
    let mut query = sqlx::query_as::<_, AccountRow>(&sql).bind(like_pattern(search));
    match after {
        Some(Cursor::Address(email)) => query = query.bind(email.clone()),
        Some(Cursor::Activity { at, id }) => query = query.bind(*at).bind(*id),
        None => {}
    }
    query.bind(limit).fetch_all(&db.pool).await
}

/// Live app passwords of each of `ids` (absent: none).
pub async fn live_counts(
    db: &Db,
    ids: &[UserId],
    now: i64,
) -> Result<Vec<(UserId, i64)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let params: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT user_id, COUNT(*) FROM app_passwords WHERE revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $1) AND user_id IN ({}) GROUP BY user_id",
        params.join(", ")
    );
    let mut query = sqlx::query_as::<_, (UserId, i64)>(&sql).bind(now);
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(&db.pool).await
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn wildcards_typed_in_a_search_are_literal() {
        assert_eq!(like_pattern("Al_ice%"), "%al\\_ice\\%%");
    }
}
