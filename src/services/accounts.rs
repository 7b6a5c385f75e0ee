//! The admin's account list: one page of a search, with each account's live app passwords.

use super::Services;
use crate::domain::UserId;
use crate::error::AppResult;
use crate::store::account_search::{self, AccountFilter, AccountSort, Cursor};
use crate::store::users::UserRow;

/// Accounts per page.
pub const PAGE: i64 = 50;

pub struct ListedAccount {
    pub user: UserRow,
    pub last_activity_at: i64,
    pub live_passwords: i64,
}

pub struct AccountPage {
    pub accounts: Vec<ListedAccount>,
    /// Where the next page starts, when there is one.
    pub next: Option<Cursor>,
}

/// One page of the accounts matching `search` (part of the address) and `filter`.
pub async fn list(
    state: &Services,
    search: &str,
    filter: AccountFilter,
    sort: AccountSort,
    after: Option<&Cursor>,
) -> AppResult<AccountPage> {
    // One row more than shown tells whether another page follows.
    let mut rows =
        account_search::page(&state.db, search.trim(), filter, sort, after, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let ids: Vec<UserId> = rows.iter().map(|r| r.user.id).collect();
    let counts = account_search::live_counts(&state.db, &ids, state.now()).await?;
    let next = more.then(|| rows.last()).flatten().map(|last| match sort {
        AccountSort::Address => Cursor::Address(last.user.email.clone()),
        AccountSort::Activity => Cursor::Activity {
            at: last.last_activity_at,
            id: last.user.id,
        },
    });
    let accounts = rows
        .into_iter()
        .map(|r| ListedAccount {
            live_passwords: counts
                .iter()
                .find(|(id, _)| *id == r.user.id)
                .map_or(0, |(_, n)| *n),
            user: r.user,
            last_activity_at: r.last_activity_at,
        })
        .collect();
    Ok(AccountPage { accounts, next })
}

/// The account `id`, or `NotFound`.
pub async fn find(state: &Services, id: UserId) -> AppResult<UserRow> {
    crate::store::users::find_by_id(&state.db, id)
        .await?
        .ok_or(crate::error::AppError::NotFound)
}

/// The account `id` and every app password it has or had (newest first).
pub async fn with_app_passwords(
    state: &Services,
    id: UserId,
) -> AppResult<(UserRow, Vec<crate::store::app_passwords::AppPasswordRow>)> {
    let user = find(state, id).await?;
    let passwords = crate::store::app_passwords::list_for_user(&state.db, id).await?;
    Ok((user, passwords))
}
