//! The proxy configs in docs/gate/ name exactly the identity headers the gate sends, and
//! keep a client's own copies of them away from the application. The nginx and Caddy
//! files also run for real in the Playwright suite (end2end/tests/gate.spec.ts); Traefik
//! is not installable here, so its file is only read.

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
            read, 2,
            "{header} read from the answer once per application"
        );
        assert_eq!(set, 2, "{header} set from {variable} once per application");
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
