//! The platform with each service signed in as its own login (`cartflow dev`'s way):
//! terraform/sql/bootstrap-database.sql applied to every service's database, as the
//! deploy applies it in Cloud SQL. The saga runs, and one service's login gets no
//! further than its own database.

use crate::helpers::{TestInfra, spawn_app_on};
use cart_service::domain::CartStatus;
use cartflow_events::Service;
use cartflow_kit::config::database_url_for;
use cartflow_platform::{SERVICES, logins};
use reqwest::StatusCode;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_own_logins_the_saga_runs_and_each_login_reaches_only_its_own_database() {
    let mut infra = TestInfra::new().await;
    infra.settings.own_logins = true;
    let app = spawn_app_on(infra, &[]).await;
    app.create_product("LOG-1", 500, 5).await;
    let customer = Uuid::new_v4();
    app.add(customer, "LOG-1", 2).await;
    assert_eq!(app.convert(customer).await.status(), StatusCode::ACCEPTED);
    let cart = app.settled_cart(customer).await;
    assert_eq!(cart.status, CartStatus::Converted, "{cart:?}");

    let settings = &app.infra.settings;
    let (server, prefix) = (&settings.server_url, &settings.database_prefix);
    let admin_url = database_url_for(server, "postgres").unwrap();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    for service in SERVICES {
        // Every session a service holds on its database is its own login's.
        let db = service.prefixed_database_name(prefix);
        let users: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT usename::text FROM pg_stat_activity
             WHERE datname = $1 AND usename <> current_user",
        )
        .bind(&db)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert_eq!(
            users,
            [logins::login_of(prefix, service)],
            "sessions on {db}"
        );
        // Its tables belong to the owner role, not to the login nor the superuser.
        let owners: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT tableowner::text FROM pg_tables WHERE schemaname = 'public'",
        )
        .fetch_all(app.pool(service))
        .await
        .unwrap();
        let owner = format!(
            "cartflow_{prefix}{}_owner",
            service.name().replace('-', "_")
        );
        assert_eq!(owners, [owner], "owners of {db}'s tables");
    }

    // The cart's login: into its own database, not the customer's, and it cannot give
    // itself the customer's roles.
    let cart_login = logins::login_of(prefix, Service::Cart);
    let as_cart = logins::signed_in_as(server, &cart_login).unwrap();
    let customers = Service::Customer.prefixed_database_name(prefix);
    let refused = PgConnection::connect(&database_url_for(&as_cart, &customers).unwrap())
        .await
        .expect_err("the cart's login connected to the customer database");
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    let carts = Service::Cart.prefixed_database_name(prefix);
    let mut cart_conn = PgConnection::connect(&database_url_for(&as_cart, &carts).unwrap())
        .await
        .unwrap();
    let customer_app = format!("cartflow_{prefix}customer_app");
    for statement in [
        format!("GRANT \"{customer_app}\" TO \"{cart_login}\""),
        "CREATE ROLE intruder".to_string(),
    ] {
        sqlx::query(&statement)
            .execute(&mut cart_conn)
            .await
            .err()
            .unwrap_or_else(|| panic!("the cart's login could run {statement}"));
    }
    let member: bool = sqlx::query_scalar("SELECT pg_has_role($1, $2, 'MEMBER')")
        .bind(&cart_login)
        .bind(&customer_app)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(!member, "the cart's login is in the customer's role");
}
