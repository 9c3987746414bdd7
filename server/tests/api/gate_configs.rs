//! The proxy configs in docs/gate/ name exactly the identity headers the gate sends, and
//! keep a client's own copies of them away from the application. The nginx and Caddy
//! files also run for real in the Playwright suite (end2end/tests/gate.spec.ts); Traefik
//! is not installable here, so its file is only read. docs/gate.md copies each whole, and
//! the shorter nginx examples (README.md, docs/deploying.md) are lines of the nginx file.

use std::path::Path;

/// Every identity header the gate's 200 answer may carry (server/src/gate.rs).
const IDENTITY_HEADERS: [&str; 5] = [
    "Remote-User",
    "Remote-Email",
    "Remote-Name",
    "Remote-Groups",
    "Remote-Link",
];

fn doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/gate")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The lines that are configuration, not comments.
fn config_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

#[test]
fn traefik_forward_auth_asks_the_gate_and_copies_exactly_its_headers() {
    let text = doc("traefik.yml");
    let lines = config_lines(&text);
    assert!(
        lines.contains(&"address: http://latchkey:3000/gate/forward-auth"),
        "forwardAuth's address is the gate's forward-auth endpoint"
    );
    assert!(lines.contains(&"trustForwardHeader: true"));
    let list = lines
        .iter()
        .position(|line| *line == "authResponseHeaders:")
        .expect("an authResponseHeaders list");
    let copied: Vec<&str> = lines[list + 1..]
        .iter()
        .map_while(|line| line.strip_prefix("- "))
        .collect();
    assert_eq!(copied, IDENTITY_HEADERS);
}

#[test]
fn nginx_sets_every_identity_header_from_the_gates_answer_only() {
    let text = doc("nginx.conf");
    let lines = config_lines(&text);
    assert!(lines.contains(&"proxy_pass http://latchkey:3000/gate/auth-request;"));
    // One gate per server block that asks Latchkey; one application per location that
    // passes on its answer.
    let gated_servers = lines
        .iter()
        .filter(|line| **line == "auth_request /latchkey-auth;")
        .count();
    let applications = lines
        .iter()
        .filter(|line| line.starts_with("proxy_pass http://") && !line.contains("latchkey:3000"))
        .count();
    assert_eq!((gated_servers, applications), (3, 4));
    for header in IDENTITY_HEADERS {
        let variable = format!("$lk_{}", header["Remote-".len()..].to_lowercase());
        let upstream = format!("$upstream_http_{}", header.to_lowercase().replace('-', "_"));
        // Per application: read from Latchkey's answer, then set on (and so overriding
        // any client copy of) the request the application gets.
        let read = lines
            .iter()
            .filter(|line| line.starts_with("auth_request_set") && line.contains(&upstream))
            .count();
        let set = lines
            .iter()
            .filter(|line| {
                line.split_whitespace().collect::<Vec<_>>()
                    == ["proxy_set_header", header, &format!("{variable};")]
            })
            .count();
        assert_eq!(
            read, gated_servers,
            "{header} read from the answer once per gated server"
        );
        assert_eq!(
            set, applications,
            "{header} set from {variable} once per application"
        );
    }
    let other_remote: Vec<&&str> = lines
        .iter()
        .filter(|line| line.contains("Remote-"))
        .filter(|line| !IDENTITY_HEADERS.iter().any(|h| line.contains(h)))
        .collect();
    assert!(
        other_remote.is_empty(),
        "no other Remote-* header: {other_remote:?}"
    );
}

#[test]
fn caddy_strips_client_copies_then_copies_exactly_the_gates_headers() {
    let text = doc("Caddyfile");
    let lines = config_lines(&text);
    assert!(lines.contains(&"uri /gate/forward-auth"));
    let strip = |header: &str| format!("request_header -{header}");
    let forward_auth = lines
        .iter()
        .position(|line| line.starts_with("forward_auth "))
        .expect("a forward_auth directive");
    for header in IDENTITY_HEADERS {
        let at = lines
            .iter()
            .position(|line| *line == strip(header))
            .unwrap_or_else(|| panic!("the client's {header} is stripped"));
        assert!(
            at < forward_auth,
            "{header} is stripped before forward_auth"
        );
    }
    let copy = lines
        .iter()
        .find_map(|line| line.strip_prefix("copy_headers "))
        .expect("copy_headers");
    assert_eq!(
        copy.split_whitespace().collect::<Vec<_>>(),
        IDENTITY_HEADERS
    );
    // `route` keeps that order; Caddy would otherwise sort request_header after
    // forward_auth and strip what it had copied.
    assert_eq!(
        lines
            .iter()
            .filter(|line| **line == "import latchkey_gate")
            .count(),
        lines.iter().filter(|line| **line == "route {").count(),
        "every import of the gate is inside a route"
    );
}

/// A file of the repository, by its path from the top.
fn repository_file(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The text of each fenced block in `markdown` opened with ```` ```language ````.
fn fenced_blocks<'a>(markdown: &'a str, language: &str) -> Vec<&'a str> {
    let opening = format!("```{language}\n");
    markdown
        .match_indices(&opening)
        .map(|(at, _)| {
            let body = &markdown[at + opening.len()..];
            &body[..body.find("\n```").expect("a closed block") + 1]
        })
        .collect()
}

#[test]
fn docs_gate_md_carries_each_config_exactly_as_the_file_says() {
    let guide = repository_file("docs/gate.md");
    for name in ["nginx.conf", "Caddyfile", "traefik.yml"] {
        let file = doc(name);
        assert!(
            guide.contains(file.trim_end()),
            "docs/gate.md's copy of docs/gate/{name} differs from the file: copy it again"
        );
    }
}

#[test]
fn the_shorter_nginx_examples_are_lines_of_the_tested_file() {
    let file = doc("nginx.conf");
    let tested = config_lines(&file);
    for path in ["README.md", "docs/deploying.md"] {
        let text = repository_file(path);
        let blocks = fenced_blocks(&text, "nginx");
        assert!(!blocks.is_empty(), "{path} has an nginx example");
        for block in blocks {
            for line in config_lines(block) {
                assert!(
                    tested.contains(&line),
                    "{path}'s nginx example has `{line}`, which docs/gate/nginx.conf \
                     (the file the Playwright suite runs) does not: take it from the file"
                );
            }
        }
    }
    // The README's example sets every identity header, so none the browser sent
    // reaches the application.
    let readme = repository_file("README.md");
    let example = config_lines(fenced_blocks(&readme, "nginx")[0]);
    for header in IDENTITY_HEADERS {
        assert!(
            example
                .iter()
                .any(|line| line.starts_with(&format!("proxy_set_header {header} "))),
            "README.md's nginx example does not set {header}"
        );
    }
}

#[test]
fn nginx_asks_about_the_host_it_routes_and_never_the_raw_host_header() {
    let text = doc("nginx.conf");
    let lines = config_lines(&text);
    let asked: Vec<&&str> = lines
        .iter()
        .filter(|line| line.starts_with("proxy_set_header X-Original-URL"))
        .collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
    for line in asked {
        assert_eq!(
            *line,
            "proxy_set_header X-Original-URL $scheme://$host:$server_port$request_uri;"
        );
    }
    assert!(!text.contains("$http_host"), "never the raw Host header");
}

#[test]
fn every_shipped_config_keeps_the_gate_away_from_the_internet_and_the_gate_cookie_from_applications(
) {
    let nginx = doc("nginx.conf");
    let lines = config_lines(&nginx);
    let public = lines
        .iter()
        .position(|line| *line == "server_name latchkey.example.com;")
        .expect("the public site");
    let refuses = lines[public..]
        .iter()
        .position(|line| *line == "location ^~ /gate/ {")
        .expect("the public site refuses /gate/");
    assert_eq!(lines[public + refuses + 1], "return 404;");
    let cookie_set = lines
        .iter()
        .filter(|line| **line == "proxy_set_header Cookie        $latchkey_app_cookie;")
        .count();
    assert_eq!(
        cookie_set, 4,
        "every application gets the cookies without the gate's"
    );

    let caddy = doc("Caddyfile");
    let lines = config_lines(&caddy);
    assert!(lines.contains(&"respond /gate/* 404"));
    let forward_auth = lines
        .iter()
        .position(|line| line.starts_with("forward_auth "))
        .unwrap();
    let strip = lines
        .iter()
        .position(|line| line.starts_with("request_header Cookie "))
        .expect("the gate cookie is removed");
    assert!(strip > forward_auth, "after forward_auth has read it");

    let traefik = doc("traefik.yml");
    assert!(traefik.contains("rule: Host(`latchkey.example.com`) && !PathPrefix(`/gate/`)"));
}
