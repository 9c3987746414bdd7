//! The authorization matrix: every `/api/` endpoint, called by every kind of caller,
//! against the answer it must give. The rows come from one table, and the table must name
//! exactly the endpoints the server registers, so a new endpoint without a row fails here.

use crate::helpers::*;
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Anonymous,
    Invitee,
    Coworker,
    Admin,
}

const CALLERS: [Caller; 4] = [
    Caller::Anonymous,
    Caller::Invitee,
    Caller::Coworker,
    Caller::Admin,
];

/// What a caller gets: 200, or an error status with its `error` tag.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Ok,
    NotSignedIn,
    Forbidden,
}

/// Per endpoint: the answer for anonymous, invitee, coworker and admin coworker callers.
/// (An admin-only endpoint says `Forbidden` in the coworker column.)
const MATRIX: &[(&str, [Expect; 4])] = {
    use Expect::*;
    &[
        ("request_signin", [Ok, Ok, Ok, Ok]),
        ("issue_link", [NotSignedIn, Forbidden, Ok, Ok]),
        ("list_links", [NotSignedIn, Forbidden, Ok, Ok]),
        ("count_links", [NotSignedIn, Forbidden, Ok, Ok]),
        ("show_link", [NotSignedIn, Forbidden, Ok, Ok]),
        ("revoke_link", [NotSignedIn, Forbidden, Ok, Ok]),
        ("resend_link", [NotSignedIn, Forbidden, Ok, Ok]),
        ("end_session", [NotSignedIn, Forbidden, Ok, Ok]),
        ("set_renewal", [NotSignedIn, Forbidden, Ok, Ok]),
        ("peek_link", [Ok, Ok, Ok, Ok]),
        ("renew_link", [Ok, Ok, Ok, Ok]),
        ("redeem_link", [Ok, Ok, Ok, Ok]),
        ("sign_out", [Ok, Ok, Ok, Ok]),
        ("current_user", [Ok, Ok, Ok, Ok]),
        ("list_coworkers", [NotSignedIn, Forbidden, Forbidden, Ok]),
        ("add_coworker", [NotSignedIn, Forbidden, Forbidden, Ok]),
        (
            "deactivate_coworker",
            [NotSignedIn, Forbidden, Forbidden, Ok],
        ),
        ("set_coworker_role", [NotSignedIn, Forbidden, Forbidden, Ok]),
        ("set_link_access", [NotSignedIn, Forbidden, Ok, Ok]),
        ("list_applications", [NotSignedIn, Forbidden, Ok, Ok]),
        ("add_application", [NotSignedIn, Forbidden, Forbidden, Ok]),
        (
            "remove_application",
            [NotSignedIn, Forbidden, Forbidden, Ok],
        ),
        ("my_applications", [Ok, Ok, Ok, Ok]),
        ("return_to", [Ok, Ok, Ok, Ok]),
    ]
};

#[test]
fn the_matrix_names_every_registered_endpoint_once() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _method)| path.to_owned())
        .collect();
    let table: BTreeSet<String> = MATRIX
        .iter()
        .map(|(endpoint, _)| format!("/api/{endpoint}"))
        .collect();
    assert_eq!(table.len(), MATRIX.len(), "an endpoint has two rows");
    assert_eq!(
        registered, table,
        "every server function needs a row in MATRIX (and every row a server function)"
    );
}

/// Signs a fresh client in as `caller`. Every cell gets its own, because some calls
/// (redeem, sign out) end the session they were made with.
async fn client_for(app: &TestApp, caller: Caller, inviter: &mut Client, n: usize) -> Client {
    match caller {
        Caller::Anonymous => Client::default(),
        Caller::Invitee => {
            let (_, token) = app
                .invite(inviter, &format!("invitee-{n}@example.com"))
                .await;
            let mut client = Client::default();
            let answer = app
                .call(&mut client, "redeem_link", &[("token", &token)])
                .await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            client
        }
        Caller::Coworker => {
            app.coworker_client(&format!("coworker-{n}@example.com"), "Cora")
                .await
        }
        Caller::Admin => {
            let email = format!("admin-{n}@example.com");
            let mut client = app.coworker_client(&email, "Ada").await;
            sqlx::query("UPDATE coworkers SET is_admin = TRUE WHERE email = $1")
                .bind(&email)
                .execute(&app.db)
                .await
                .unwrap();
            assert_eq!(
                app.call(&mut client, "current_user", &[]).await.body["is_admin"],
                true
            );
            client
        }
    }
}

#[tokio::test]
async fn every_endpoint_answers_every_caller_as_the_table_says() {
    let app = spawn_app().await;
    let mut inviter = app.coworker_client("bob@example.com", "Bob").await;
    let mut n = 0;
    for (endpoint, expected) in MATRIX {
        for (caller, expect) in CALLERS.iter().zip(expected) {
            n += 1;
            let mut client = client_for(&app, *caller, &mut inviter, n).await;
            // Fresh arguments per cell: a link to revoke, a token to peek at or redeem.
            let (link_id, token) = app
                .invite(&mut inviter, &format!("target-{n}@example.com"))
                .await;
            let link_id_text = link_id.to_string();
            let link_id = link_id_text.as_str();
            let target = format!("someone-{n}@example.com");
            // Renewing needs a used link, ending a session a live one: someone else
            // redeems the target first.
            let mut session_number = String::new();
            let mut victim = String::new();
            if matches!(*endpoint, "deactivate_coworker" | "set_coworker_role") {
                let email = format!("victim-{n}@example.com");
                app.add_coworker(&email, "Vic").await;
                victim = app
                    .count(&format!("SELECT id FROM coworkers WHERE email = '{email}'"))
                    .await
                    .to_string();
            }
            let application = format!("App {n}");
            let application_url = format!("https://app{n}.example.com");
            if *endpoint == "remove_application" {
                app::server::applications::add(&app.db, &application, &application_url)
                    .await
                    .unwrap();
            }
            if matches!(*endpoint, "renew_link" | "end_session") {
                let answer = app
                    .call(&mut Client::default(), "redeem_link", &[("token", &token)])
                    .await;
                assert_eq!(answer.status, 200, "{}", answer.body);
                session_number = app
                    .count(&format!(
                        "SELECT rowid FROM auth_sessions WHERE link_id = {link_id}"
                    ))
                    .await
                    .to_string();
            }
            let form: Vec<(&str, &str)> = match *endpoint {
                "request_signin" => vec![("email", "bob@example.com")],
                "issue_link" => vec![("email", &target), ("expires_in", "24h")],
                "list_links" | "count_links" | "sign_out" | "current_user" | "list_coworkers" => {
                    vec![]
                }
                "show_link" | "revoke_link" | "resend_link" => vec![("id", link_id)],
                "end_session" => vec![("session", &session_number)],
                "set_renewal" => vec![("id", link_id), ("renewal", "off")],
                "peek_link" | "redeem_link" | "renew_link" => vec![("token", &token)],
                "add_coworker" => vec![("email", &target), ("name", "New Person")],
                "deactivate_coworker" => vec![("id", &victim)],
                "set_coworker_role" => vec![("id", &victim), ("role", "admin")],
                "set_link_access" => vec![("id", link_id), ("applications", "")],
                "list_applications" | "my_applications" => vec![],
                "add_application" => vec![("name", &application), ("url", &application_url)],
                "remove_application" => vec![("name", &application)],
                "return_to" => vec![("rd", "/dashboard")],
                other => panic!("no arguments for {other}; add them here"),
            };
            // Invitations only: a sign-in requested in the cell before is worked after its
            // answer, and may store its sign-in link while this cell runs.
            let invitations = "SELECT count(*) FROM magic_links WHERE purpose = 'invite'";
            let links_before = app.count(invitations).await;
            let revoked_before = app
                .count("SELECT count(*) FROM magic_links WHERE revoked_at IS NOT NULL")
                .await;
            // Invitations' trails only: a sign-in requested in the cell before may still be
            // recording its mail on its own link.
            let invite_events = "SELECT count(*) FROM link_events e
                 JOIN magic_links l ON l.id = e.link_id WHERE l.purpose = 'invite'";
            let events_before = app.count(invite_events).await;
            let coworkers_before = app
                .count("SELECT count(*) FROM coworkers WHERE deactivated_at IS NULL")
                .await;
            let admins = "SELECT count(*) FROM coworkers WHERE is_admin";
            let admins_before = app.count(admins).await;
            let ended_before = app
                .count("SELECT count(*) FROM auth_sessions WHERE ended_at IS NOT NULL")
                .await;
            let answer = app.call(&mut client, endpoint, &form).await;
            let cell = format!("{endpoint} as {caller:?}");
            match expect {
                Expect::Ok => assert_eq!(answer.status, 200, "{cell}: {}", answer.body),
                Expect::NotSignedIn => assert_eq!(
                    (answer.status, answer.error()),
                    (401, "not_signed_in"),
                    "{cell}"
                ),
                Expect::Forbidden => assert_eq!(
                    (answer.status, answer.error()),
                    (403, "forbidden"),
                    "{cell}"
                ),
            }
            if *expect != Expect::Ok {
                // A refused call stores nothing and changes nothing.
                assert_eq!(
                    app.count(invitations).await,
                    links_before,
                    "{cell} stored a link"
                );
                assert_eq!(
                    app.count("SELECT count(*) FROM magic_links WHERE revoked_at IS NOT NULL")
                        .await,
                    revoked_before,
                    "{cell} revoked a link"
                );
                assert_eq!(
                    app.count(invite_events).await,
                    events_before,
                    "{cell} wrote to a trail"
                );
                assert_eq!(
                    app.count("SELECT count(*) FROM coworkers WHERE deactivated_at IS NULL")
                        .await,
                    coworkers_before,
                    "{cell} added or deactivated a coworker"
                );
                assert_eq!(
                    app.count("SELECT count(*) FROM auth_sessions WHERE ended_at IS NOT NULL")
                        .await,
                    ended_before,
                    "{cell} ended a session"
                );
                assert_eq!(
                    app.count(admins).await,
                    admins_before,
                    "{cell} changed a role"
                );
                // And the caller is still who they were.
                let role = app.role(&mut client).await;
                let was = match caller {
                    Caller::Anonymous => "anonymous",
                    Caller::Invitee => "invitee",
                    Caller::Coworker | Caller::Admin => "coworker",
                };
                assert_eq!(role, was, "{cell} changed the caller");
            }
        }
    }
}
