//! The links list stays fast however many links there are: its queries walk an index in
//! the order they answer in, and never sort or scan the whole table. Checked on the
//! query plan, not with a timer.

use crate::helpers::*;
use app::model::links::LinkState;
use app::server::store::link_list::{list_sql, ListPlan, FEW_IN_STATE};
use app::server::store::link_state::COUNTS_SQL;

async fn plan(app: &TestApp, how: ListPlan, search: Option<&str>, state: Option<&str>) -> String {
    let rows = sqlx::query_as(&format!(
        "EXPLAIN QUERY PLAN {}",
        list_sql(how, app::server::db::Engine::Sqlite)
    ))
    .bind(0_i64)
    .bind(None::<i64>)
    .bind(search)
    .bind(state)
    .bind(51_i64)
    .fetch_all(&app.db)
    .await
    .unwrap();
    steps(rows)
}

/// EXPLAIN QUERY PLAN rows as one line per step.
fn steps(rows: Vec<(i64, i64, i64, String)>) -> String {
    rows.into_iter()
        .map(|(_, _, _, detail)| detail)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_list_walks_an_index_newest_first_and_never_sorts() {
    crate::sqlite_only!("SQLite's query plans");
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    for i in 0..30 {
        let answer = app
            .issue(&mut bob, &format!("guest-{i}@acme.example"))
            .await;
        assert_eq!(answer.status, 200);
    }
    sqlx::query("ANALYZE").execute(&app.db).await.unwrap();

    for state in [None, Some("pending")] {
        let plain = plan(&app, ListPlan::Newest, None, state).await;
        assert!(
            plain.contains("USING INDEX magic_links_purpose_id")
                || plain.contains("USING COVERING INDEX magic_links_purpose_id"),
            "{plain}"
        );
        assert!(!plain.contains("TEMP B-TREE"), "no sort: {plain}");
        assert!(
            !plain.contains("SCAN l\n") && !plain.ends_with("SCAN l"),
            "{plain}"
        );

        let searched = plan(&app, ListPlan::Search, Some("acme"), state).await;
        assert!(searched.contains("VIRTUAL TABLE INDEX"), "{searched}");
        assert!(!searched.contains("TEMP B-TREE"), "no sort: {searched}");
    }
}

#[tokio::test]
async fn searching_matches_any_part_of_the_address_literally() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    for email in [
        "ann@acme.example",
        "bob@acme.example",
        "carl@other.example",
        "o'neil@acme.example",
    ] {
        let answer = app.issue(&mut bob, email).await;
        assert_eq!(answer.status, 200, "{email}: {}", answer.body);
    }
    let found = |q: &'static str| {
        let app = &app;
        let mut bob = bob.clone();
        async move {
            let answer = app.call(&mut bob, "list_links", &[("q", q)]).await;
            assert_eq!(answer.status, 200, "{q}: {}", answer.body);
            let mut emails: Vec<String> = answer.body["links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["email"].as_str().unwrap().to_owned())
                .collect();
            emails.sort();
            emails
        }
    };
    assert_eq!(found("acme").await.len(), 3);
    assert_eq!(found("ACME.EX").await.len(), 3, "case does not matter");
    assert_eq!(found("rl@oth").await, vec!["carl@other.example"]);
    assert!(
        found("o\"b").await.is_empty(),
        "a quote is just a character"
    );
    assert_eq!(found("o'n").await, vec!["o'neil@acme.example"]);
    assert_eq!(
        found("AND OR").await.len(),
        0,
        "search words are not operators"
    );
    assert_eq!(
        found("ca").await,
        vec!["carl@other.example"],
        "short searches still work"
    );
    assert!(found("zzz").await.is_empty());
    // Found by the hostile-input sweep: a NUL inside the search once ended SQLite's
    // full-text query early and answered 500.
    for q in ["\0\0\u{7f}", "ac\0me", "a\r\nb"] {
        let answer = app.call(&mut bob, "list_links", &[("q", q)]).await;
        assert_eq!(
            (answer.status, answer.body["field"].as_str()),
            (400, Some("q")),
            "{q:?}: {}",
            answer.body
        );
    }
}

/// The plan of `sql`, with `?1` bound to 0, one line per step.
async fn plan_of(app: &TestApp, sql: &str) -> String {
    let rows = sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
        .bind(0_i64)
        .fetch_all(&app.db)
        .await
        .unwrap();
    steps(rows)
}

#[tokio::test]
async fn with_a_hundred_thousand_links_every_dashboard_query_reads_an_index() {
    crate::sqlite_only!("SQLite's query plans");
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    // 100,000 invitations in every state, written straight into the file.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
         INSERT INTO magic_links (token_hash, purpose, recipient_email, coworker_id,
                                  created_at, expires_at, redeemed_at, revoked_at, delivery)
         SELECT randomblob(32), 'invite', 'guest' || i || '@org' || (i % 97) || '.example', 1,
                1000 + i, CASE WHEN i % 4 = 0 THEN 1001 + i ELSE 4000000000 END,
                CASE WHEN i % 4 = 1 THEN 2000 + i END,
                CASE WHEN i % 4 = 2 THEN 2000 + i END, 'sent'
         FROM n",
    )
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&app.db).await.unwrap();

    let counts = plan_of(&app, COUNTS_SQL).await;
    for index in [
        "magic_links_open",
        "magic_links_redeemed",
        "magic_links_revoked",
    ] {
        assert!(counts.contains(index), "{index} unused: {counts}");
    }
    assert!(!counts.contains("SCAN magic_links\n"), "{counts}");
    let answer = app.call(&mut bob, "count_links", &[]).await;
    assert_eq!(
        answer.body,
        serde_json::json!({"pending": 25000, "redeemed": 25000, "expired": 25000, "revoked": 25000})
    );

    for state in [None, Some("revoked")] {
        let plain = plan(&app, ListPlan::Newest, None, state).await;
        assert!(plain.contains("magic_links_purpose_id"), "{plain}");
        assert!(!plain.contains("TEMP B-TREE"), "{plain}");
        let searched = plan(&app, ListPlan::Search, Some("org42"), state).await;
        assert!(searched.contains("VIRTUAL TABLE INDEX"), "{searched}");
        assert!(!searched.contains("TEMP B-TREE"), "{searched}");
    }
    // A state's own index: read newest first for used and revoked links;
    // pending and expired ones come by expiry and are sorted, which `list` allows only
    // for a state with fewer than FEW_IN_STATE links.
    for (state, index) in [
        (LinkState::Redeemed, "magic_links_redeemed"),
        (LinkState::Revoked, "magic_links_revoked"),
        (LinkState::Pending, "magic_links_open"),
        (LinkState::Expired, "magic_links_open"),
    ] {
        let by_state = plan(&app, ListPlan::ByState(state), Some("org4"), None).await;
        assert!(by_state.contains(index), "{state:?}: {by_state}");
        assert!(!by_state.contains("SCAN l\n"), "{by_state}");
        if matches!(state, LinkState::Redeemed | LinkState::Revoked) {
            assert!(!by_state.contains("TEMP B-TREE"), "{state:?}: {by_state}");
        }
    }
    let trail = plan_of(&app, app::server::store::events::TRAIL_SQL).await;
    assert!(trail.contains("link_events_link"), "{trail}");
    assert!(!trail.contains("TEMP B-TREE"), "{trail}");
    for repeat in [
        app::server::store::events::SAME_RECENT_EVENT_SQL,
        app::server::store::events::RECENT_OF_KIND_SQL,
    ] {
        let plan = plan_of(&app, repeat).await;
        assert!(plan.contains("link_events_repeatable"), "{repeat}: {plan}");
    }
    // A link's page: the link replacing it comes from an index, not a walk of every link.
    let details = plan_of(&app, app::server::store::link_list::DETAIL_SQL).await;
    assert!(details.contains("magic_links_replaces"), "{details}");
    assert!(!details.contains("SCAN n"), "{details}");

    // And the pages are right: newest first, 50 at a time, the cursor continuing.
    let first = app.call(&mut bob, "list_links", &[]).await;
    let links = first.body["links"].as_array().unwrap();
    assert_eq!(links.len(), 50);
    assert_eq!(links[0]["email"], "guest100000@org90.example");
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .call(&mut bob, "list_links", &[("cursor", cursor)])
        .await;
    assert_eq!(second.body["links"][0]["email"], "guest99950@org40.example");
}

/// A state with few links is listed from its own index, a common one by walking all
/// links newest first; both give the same pages.
#[tokio::test]
async fn a_rare_state_and_a_common_one_list_the_same_way_through_either_plan() {
    crate::sqlite_only!("SQLite's query plans");
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    // More expired links than FEW_IN_STATE, then three pending ones among them.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO magic_links (token_hash, purpose, recipient_email, coworker_id,
                                  created_at, expires_at, delivery)
         SELECT randomblob(32), 'invite', 'old' || i || '@org.example', 1, 1000 + i, 2000 + i,
                'sent'
         FROM n",
    )
    .bind(FEW_IN_STATE + 100)
    .execute(&app.db)
    .await
    .unwrap();
    for email in ["new1@org.example", "new2@org.example", "new3@other.example"] {
        assert_eq!(app.issue(&mut bob, email).await.status, 200);
    }
    let emails = |answer: &Answer| -> Vec<String> {
        answer.body["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["email"].as_str().unwrap().to_owned())
            .collect()
    };

    let pending = app
        .call(&mut bob, "list_links", &[("status", "pending")])
        .await;
    assert_eq!(
        emails(&pending),
        ["new3@other.example", "new2@org.example", "new1@org.example"]
    );
    assert!(pending.body["next_cursor"].is_null());
    let searched = app
        .call(
            &mut bob,
            "list_links",
            &[("status", "pending"), ("q", "org.ex")],
        )
        .await;
    assert_eq!(emails(&searched), ["new2@org.example", "new1@org.example"]);

    let expired = app
        .call(&mut bob, "list_links", &[("status", "expired")])
        .await;
    let first = emails(&expired);
    assert_eq!(first.len(), 50);
    let newest = FEW_IN_STATE + 100;
    assert_eq!(first[0], format!("old{newest}@org.example"));
    let cursor = expired.body["next_cursor"].as_str().unwrap().to_owned();
    let next = app
        .call(
            &mut bob,
            "list_links",
            &[("status", "expired"), ("cursor", cursor.as_str())],
        )
        .await;
    assert_eq!(emails(&next)[0], format!("old{}@org.example", newest - 50));
}
