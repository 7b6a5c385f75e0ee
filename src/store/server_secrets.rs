//! Secrets this installation generates for itself on first start and keeps in its database,
//! so that every instance sharing the database uses the same one.

use super::Db;

/// The secret called `name`, made with `generate` if there is none yet. Two instances
/// starting at once both try to insert; the first wins and both read the winner's.
pub async fn get_or_create(
    db: &Db,
    name: &str,
    generate: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    sqlx::query(
        "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(generate()?)
    .execute(&db.pool)
    .await?;
    let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
        .bind(name)
        .fetch_one(&db.pool)
        .await?;
    Ok(value)
}
