//! Each service signs in as its own login, as in Cloud SQL: the deploy's
//! `terraform/sql/bootstrap-database.sql`, applied here with psql to each service's
//! database, makes an owner role (migrations) and an app role (its data) per database,
//! revokes what PUBLIC had, and gives the service's login those two and nothing else. So
//! the local stack keeps a service out of the others' databases the way production
//! does, instead of signing everything in as the superuser.
//!
//! psql runs the file because it is written for psql (`\gset`, `\gexec`, `\connect`),
//! the same file the deploy applies: one definition of the grants, not a copy in Rust.

use anyhow::Context;
use cartflow_events::Service;
use cartflow_kit::config::database_url_for;
use sqlx::{Connection, PgConnection};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// The roles and grants the deploy applies to each service's database.
const BOOTSTRAP_SQL: &str = include_str!("../../terraform/sql/bootstrap-database.sql");

/// The login `service` signs in as, on a platform whose databases carry `prefix`.
pub fn login_of(prefix: &str, service: Service) -> String {
    format!("{}_login", service.prefixed_database_name(prefix))
}

/// `server_url` signing in as `login` (no password: the private cluster trusts
/// loopback, as Cloud SQL's IAM authentication needs none in the URL).
pub fn signed_in_as(server_url: &str, login: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(server_url).context("DATABASE_URL is not a URL")?;
    url.set_username(login)
        .and_then(|()| url.set_password(None))
        .map_err(|()| anyhow::anyhow!("DATABASE_URL cannot carry a user name"))?;
    Ok(url.to_string())
}

/// Makes `login_of(prefix, service)` the way into the service's database, and the
/// only one besides the superuser. Idempotent; `server_url` must sign in as a role
/// that may create roles (the private cluster's superuser).
pub async fn isolate(server_url: &str, prefix: &str, service: Service) -> anyhow::Result<()> {
    let login = login_of(prefix, service);
    let admin_url = database_url_for(server_url, "postgres").map_err(anyhow::Error::msg)?;
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .context("connecting to PostgreSQL to create the services' logins")?;
    // The script refuses any service role in Cloud SQL's `cloudsqlsuperuser`: the role
    // must exist for that check to run.
    for (role, options) in [(&*login, "LOGIN"), ("cloudsqlsuperuser", "NOLOGIN")] {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(role)
                .fetch_one(&mut admin)
                .await?;
        if !exists {
            let create = format!("CREATE ROLE \"{role}\" {options}");
            if let Err(err) = sqlx::query(&create).execute(&mut admin).await {
                // Another platform on this server created it meanwhile.
                if err.as_database_error().and_then(|e| e.code()).as_deref() != Some("42710") {
                    return Err(err).with_context(|| format!("creating role {role}"));
                }
            }
        }
    }
    admin.close().await.ok();

    // The script derives the roles' names from `service`: cartflow_<service>_owner.
    let key = format!("{prefix}{}", service.name());
    let db = service.prefixed_database_name(prefix);
    let mut psql = tokio::process::Command::new(psql_binary())
        .arg(&admin_url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(["-v", &format!("service={key}")])
        .args(["-v", &format!("db={db}")])
        .args(["-v", &format!("login={login}")])
        .args(["-f", "-"])
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running psql (PostgreSQL's client) to apply the roles and grants")?;
    let mut stdin = psql.stdin.take().expect("psql's stdin is piped");
    stdin.write_all(BOOTSTRAP_SQL.as_bytes()).await?;
    drop(stdin);
    let done = psql.wait_with_output().await?;
    anyhow::ensure!(
        done.status.success(),
        "applying terraform/sql/bootstrap-database.sql to {db} failed: {}",
        String::from_utf8_lossy(&done.stderr).trim()
    );
    Ok(())
}

/// `psql` on the PATH, else the newest installed PostgreSQL's (Debian keeps it off
/// the PATH beside the server).
fn psql_binary() -> String {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .any(|dir| dir.join("psql").is_file());
    if on_path {
        return "psql".into();
    }
    let mut installed: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin/psql"))
        .filter(|psql| psql.is_file())
        .collect();
    installed.sort();
    installed
        .pop()
        .map_or_else(|| "psql".into(), |p| p.display().to_string())
}
