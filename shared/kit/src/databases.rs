//! Creating and dropping the per-service databases on a PostgreSQL server.

use crate::config::database_url_for;
use anyhow::Context;
use sqlx::{Connection, PgConnection};

async fn admin_connection(server_url: &str) -> anyhow::Result<PgConnection> {
    let url = database_url_for(server_url, "postgres").map_err(anyhow::Error::msg)?;
    PgConnection::connect(&url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", crate::redact::url(&url)))
}

fn quoted(name: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "refusing odd database name {name:?}"
    );
    Ok(format!("\"{name}\""))
}

/// Creates `name` unless it exists. Returns true if it was created.
pub async fn ensure(server_url: &str, name: &str) -> anyhow::Result<bool> {
    let mut conn = admin_connection(server_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if exists {
        return Ok(false);
    }
    match sqlx::query(&format!("CREATE DATABASE {}", quoted(name)?))
        .execute(&mut conn)
        .await
    {
        Ok(_) => Ok(true),
        // Someone else created it between our check and our create.
        Err(e)
            if e.as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c == "42P04" || c == "23505") =>
        {
            Ok(false)
        }
        Err(e) => Err(e).with_context(|| format!("creating database {name}")),
    }
}

/// Drops `name` if it exists, disconnecting anyone still using it.
pub async fn drop(server_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = admin_connection(server_url).await?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quoted(name)?
    ))
    .execute(&mut conn)
    .await
    .with_context(|| format!("dropping database {name}"))?;
    Ok(())
}

/// The databases whose names start with `prefix` (a test's, or a stack's).
pub async fn with_prefix(server_url: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut conn = admin_connection(server_url).await?;
    Ok(
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(prefix)
            .fetch_all(&mut conn)
            .await?,
    )
}
