//! The `latchkey` command line as a person meets it: the real binary, its help, its
//! version, and its exit codes (0 done, 1 the command failed, 2 a usage error).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `latchkey ARGS` against a fresh database in its own directory.
fn latchkey(args: &[&str]) -> Output {
    latchkey_in(tempfile::tempdir().unwrap().path(), args)
}

/// Runs `latchkey ARGS` with its database and outbox in `dir`.
fn latchkey_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env(
            "LATCHKEY_DATABASE_URL",
            format!("sqlite://{}", dir.join("latchkey.db").display()),
        )
        .env("LATCHKEY_OUTBOX_DIR", dir.join("outbox"))
        // A backtrace, were one printed, would show here.
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn help_names_every_command_and_exits_0() {
    for args in [&["--help"][..], &["help"], &["-h"]] {
        let help = latchkey(args);
        assert_eq!(help.status.code(), Some(0), "{args:?}: {help:?}");
        let text = stdout(&help);
        assert!(text.contains("Usage: latchkey [COMMAND]"), "{text}");
        for command in ["serve", "coworker", "signin-link", "precompress"] {
            assert!(
                text.lines()
                    .any(|line| line.trim_start().starts_with(&format!("{command} "))),
                "{command} missing from:\n{text}"
            );
        }
        assert!(stderr(&help).is_empty());
    }
}

#[test]
fn version_prints_the_version() {
    let version = latchkey(&["--version"]);
    assert_eq!(version.status.code(), Some(0), "{version:?}");
    assert_eq!(
        stdout(&version),
        format!("latchkey {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn coworker_help_names_its_commands_and_the_roles() {
    let help = latchkey(&["coworker", "--help"]);
    assert_eq!(help.status.code(), Some(0), "{help:?}");
    let text = stdout(&help);
    assert!(
        text.contains("Usage: latchkey coworker <COMMAND>"),
        "{text}"
    );
    for command in ["add", "list", "remove", "role"] {
        assert!(
            text.contains(&format!("\n  {command} ")),
            "{command}:\n{text}"
        );
    }

    let role = stdout(&latchkey(&["coworker", "role", "--help"]));
    assert!(
        role.contains("Usage: latchkey coworker role <EMAIL> <ROLE>"),
        "{role}"
    );
    assert!(
        role.contains("- admin:") && role.contains("- coworker:"),
        "{role}"
    );
    let add = stdout(&latchkey(&["help", "coworker", "add"]));
    assert!(
        add.contains("--name <NAME>") && add.contains("--admin"),
        "{add}"
    );
}

#[test]
fn copy_db_help_says_the_argument_exposes_the_password_and_how_not_to() {
    let help = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["copy-db", "--help"])
        // Set, its value must still not be shown.
        .env("LATCHKEY_COPY_TO", "postgres://u:hunter2@db.example.com/l")
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0), "{help:?}");
    let text = stdout(&help);
    for words in [
        "LATCHKEY_COPY_TO",
        "--to -",
        "standard input",
        "process list",
    ] {
        assert!(text.contains(words), "{words:?} missing from:\n{text}");
    }
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn serve_help_lists_the_environment_that_configures_the_server() {
    let help = latchkey(&["serve", "--help"]);
    assert_eq!(help.status.code(), Some(0), "{help:?}");
    let text = stdout(&help);
    for variable in [
        "LATCHKEY_DATABASE_URL",
        "LATCHKEY_PUBLIC_URL",
        "LATCHKEY_SMTP_URL",
        "LEPTOS_SITE_ADDR",
        "RUST_LOG",
    ] {
        assert!(text.contains(variable), "{variable} missing from:\n{text}");
    }
    assert!(
        text.contains("[default: sqlite://data/latchkey.db]"),
        "{text}"
    );
}

/// Every `LATCHKEY_*` name in `text`: the prefix and the capitals, digits and underscores
/// that follow it (`LATCHKEY_*` alone names none).
fn latchkey_variables(text: &str) -> BTreeSet<&str> {
    const PREFIX: &str = "LATCHKEY_";
    text.match_indices(PREFIX)
        .map(|(at, _)| {
            let rest = &text[at + PREFIX.len()..];
            let length = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(rest.len());
            &text[at..at + PREFIX.len() + length]
        })
        .filter(|name| name.len() > PREFIX.len())
        .collect()
}

/// The variables `serve --help` lists: the first word of each entry of its Environment
/// section, and every `LATCHKEY_*` name it prints anywhere.
fn variables_in_serve_help(help: &str) -> BTreeSet<&str> {
    let environment = &help[help.find("\nEnvironment").expect("an Environment section")..];
    let mut names: BTreeSet<&str> = environment
        .lines()
        .filter_map(|line| line.strip_prefix("  "))
        .filter_map(|entry| entry.split_whitespace().next())
        .filter(|word| {
            word.contains('_')
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    names.extend(latchkey_variables(help));
    names
}

/// The variables docs/configuration.md documents: the first cell of each row of its
/// table, `| `NAME` | default | meaning |`.
fn variables_in_table(doc: &str) -> BTreeSet<&str> {
    doc.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|row| row.split_once('`'))
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn docs_configuration_documents_exactly_the_variables_serve_help_lists() {
    let help = latchkey(&["serve", "--help"]);
    assert_eq!(help.status.code(), Some(0), "{help:?}");
    let help = stdout(&help);
    let listed = variables_in_serve_help(&help);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let rows = variables_in_table(&doc);

    let undocumented: Vec<&str> = listed.difference(&rows).copied().collect();
    assert!(
        undocumented.is_empty(),
        "`latchkey serve --help` lists {undocumented:?}, which docs/configuration.md's \
         table has no row for: add a row"
    );
    let mut named = rows;
    named.extend(latchkey_variables(&doc));
    let unlisted: Vec<&str> = named.difference(&listed).copied().collect();
    assert!(
        unlisted.is_empty(),
        "docs/configuration.md documents {unlisted:?}, which `latchkey serve --help` does \
         not list: add it to the help (server/src/cli.rs) or take it out of the file"
    );
}

#[test]
fn usage_errors_exit_2_with_clap_s_message_on_stderr() {
    for (args, message) in [
        (&["launch"][..], "error: unrecognized subcommand 'launch'"),
        (
            &["coworker", "role", "ann@example.com"],
            "error: the following required arguments were not provided:\n  <ROLE>",
        ),
        (
            &["coworker", "role", "ann@example.com", "owner"],
            "error: invalid value 'owner' for '<ROLE>'",
        ),
        (
            &["coworker", "list", "--admin"],
            "error: unexpected argument '--admin' found",
        ),
        (
            &["signin-link", "not-an-address"],
            "error: invalid value 'not-an-address' for '<EMAIL>': An email address needs an @",
        ),
    ] {
        let refused = latchkey(args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {refused:?}");
        assert!(stdout(&refused).is_empty(), "{args:?}: {refused:?}");
        let text = stderr(&refused);
        assert!(text.starts_with(message), "{args:?}: {text}");
        assert!(
            text.contains("For more information, try '--help'."),
            "{text}"
        );
    }
    // A missing subcommand shows the command's help, on stderr, as a usage error.
    let bare = latchkey(&["coworker"]);
    assert_eq!(bare.status.code(), Some(2), "{bare:?}");
    assert!(stderr(&bare).contains("Usage: latchkey coworker <COMMAND>"));
}

#[test]
fn a_failing_command_exits_1_with_one_plain_line() {
    let failed = latchkey(&["coworker", "role", "nobody@example.com", "admin"]);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    assert!(stdout(&failed).is_empty(), "{failed:?}");
    assert_eq!(
        stderr(&failed),
        "latchkey: nobody@example.com is not an active coworker\n"
    );

    // The last admin cannot be removed: the refusal says what to do instead.
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| latchkey_in(dir.path(), args);
    let added = run(&["coworker", "add", "ann@example.com", "--admin"]);
    assert_eq!(stdout(&added), "Added coworker ann@example.com.\n");
    let refused = run(&["coworker", "role", "ann@example.com", "coworker"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let text = stderr(&refused);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("latchkey: that would leave no active admin"),
        "{text}"
    );
    for internal in ["backtrace", "panicked", "src/", "sqlx", "Error {"] {
        assert!(!text.contains(internal), "{internal} in {text}");
    }
}
