//! The links list stays fast however many links there are: its queries walk an index in
//! the order they answer in, and never sort or scan the whole table. Checked on the
//! query plan, not with a timer.

use crate::helpers::*;
use app::server::links::list_sql;

async fn plan(app: &TestApp, trigram: bool, search: Option<&str>, state: Option<&str>) -> String {
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(&format!("EXPLAIN QUERY PLAN {}", list_sql(trigram)))
            .bind(0_i64)
            .bind(None::<i64>)
            .bind(search)
            .bind(state)
            .bind(51_i64)
            .fetch_all(&app.db)
            .await
            .unwrap();
    rows.into_iter()
        .map(|(_, _, _, detail)| detail)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_list_walks_an_index_newest_first_and_never_sorts() {
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
        let plain = plan(&app, false, None, state).await;
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

        let searched = plan(&app, true, Some("acme"), state).await;
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
}
