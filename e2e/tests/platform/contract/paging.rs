//! Paging beyond what the documents show: a long list walked while it grows, and a
//! token edited or reused with other filters refused.

use crate::helpers::spawn_app;
use cartflow_events::Service;
use std::collections::BTreeSet;
use uuid::Uuid;

/// 1,234 orders of one customer, walked in pages of 100 while more are being created:
/// each of the first 1,234 exactly once, none skipped, newest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_list_is_walked_page_by_page_without_a_duplicate_or_a_gap() {
    let app = spawn_app().await;
    let customer = Uuid::new_v4();
    let pool = app.pool(Service::Order).clone();
    let insert = move |n: i64, pool: sqlx::PgPool| async move {
        sqlx::query(
            "INSERT INTO orders (id, cart_id, checkout_id, customer_id, status, total_cents)
             SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), $1, 'confirmed', 100
             FROM generate_series(1, $2)",
        )
        .bind(customer)
        .bind(n)
        .execute(&pool)
        .await
        .unwrap();
    };
    insert(1234, pool.clone()).await;
    let existing: BTreeSet<Uuid> = sqlx::query_scalar("SELECT id FROM orders")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(existing.len(), 1234);
    // New orders keep arriving while the list is walked.
    let writer = tokio::spawn({
        let pool = pool.clone();
        async move {
            for _ in 0..20 {
                insert(5, pool.clone()).await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    });
    let (mut walked, mut token, mut pages) = (Vec::<Uuid>::new(), None::<String>, 0);
    let mut previous: Option<(String, Uuid)> = None;
    loop {
        let mut query = format!("customer_id={customer}&page_size=100");
        if let Some(token) = &token {
            query.push_str(&format!("&page_token={token}"));
        }
        let page = app
            .get_json(Service::Order, &format!("/orders?{query}"))
            .await;
        pages += 1;
        for order in page["items"].as_array().unwrap() {
            let key = (
                order["created_at"].as_str().unwrap().to_string(),
                order["id"].as_str().unwrap().parse().unwrap(),
            );
            if let Some(previous) = &previous {
                // RFC 3339 in UTC with the same precision sorts as text.
                assert!(key < *previous, "newest first: {key:?} after {previous:?}");
            }
            walked.push(key.1);
            previous = Some(key);
        }
        match page["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    writer.await.unwrap();
    let unique: BTreeSet<Uuid> = walked.iter().copied().collect();
    assert_eq!(unique.len(), walked.len(), "no order twice");
    assert!(
        existing.is_subset(&unique),
        "every order there before the walk, once"
    );
    assert!(pages >= 13, "{pages} pages");
    // A token edited, or used with other filters, is refused.
    let page = app
        .get_json(
            Service::Order,
            &format!("/orders?customer_id={customer}&page_size=10"),
        )
        .await;
    let token = page["next_page_token"].as_str().unwrap();
    for query in [
        format!(
            "customer_id={customer}&page_token={}x",
            &token[..token.len() - 1]
        ),
        format!("status=shipped&customer_id={customer}&page_token={token}"),
    ] {
        let url = format!("{}/orders?{query}", app.url(Service::Order));
        let response = app.staff.get(url).send().await.unwrap();
        assert_eq!(response.status(), 422, "{query}");
    }
    app.stop().await;
}
