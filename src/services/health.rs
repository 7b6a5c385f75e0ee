//! Readiness (`/readyz`): whether this instance can do its work now. The database answers,
//! its schema has every migration this binary knows, and, when a doveadm API is configured,
//! that API answers. Each check says what is wrong in a few plain words for the public
//! answer; the detail (which may name hosts) goes to the log only.

use std::future::Future;
use std::time::Duration;

use super::Services;
use crate::store;

/// Time allowed to each check; they run at the same time.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// One check: its name and, when it failed, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub problem: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Readiness {
    pub checks: Vec<Check>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|c| c.problem.is_none())
    }
}

/// Runs every check at once.
pub async fn readiness(state: &Services) -> Readiness {
    let (database, schema, doveadm) = tokio::join!(database(state), schema(state), doveadm(state));
    let mut checks = vec![database, schema];
    checks.extend(doveadm);
    Readiness { checks }
}

async fn database(state: &Services) -> Check {
    let query = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&state.db.pool);
    let problem = match timed(query).await {
        Ok(Ok(_)) => None,
        Ok(Err(err)) => Some(database_problem("database", &err)),
        Err(late) => Some(late),
    };
    Check {
        name: "database",
        problem,
    }
}

async fn schema(state: &Services) -> Check {
    let problem = match timed(state.db.pending_migrations()).await {
        Ok(Ok(pending)) if pending.is_empty() => None,
        Ok(Ok(pending)) => Some(format!(
            "{} migration(s) not applied: run `mailkeys migrate`",
            pending.len()
        )),
        Ok(Err(err)) => Some(database_problem("schema", &err)),
        Err(late) => Some(late),
    };
    Check {
        name: "schema",
        problem,
    }
}

async fn doveadm(state: &Services) -> Option<Check> {
    let doveadm = state.doveadm.as_ref()?;
    let problem = match timed(doveadm.ready()).await {
        Ok(Ok(())) => None,
        Ok(Err(short)) => Some(short),
        Err(late) => Some(late),
    };
    Some(Check {
        name: "doveadm",
        problem,
    })
}

async fn timed<T>(work: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(CHECK_TIMEOUT, work)
        .await
        .map_err(|_| format!("no answer within {} s", CHECK_TIMEOUT.as_secs()))
}

/// Logs the error and says in two words what kind it was.
fn database_problem(check: &str, err: &sqlx::Error) -> String {
    tracing::warn!(check, error = %err, "readiness check failed");
    if store::is_unavailable(err) {
        "unreachable".into()
    } else {
        "query failed".into()
    }
}
