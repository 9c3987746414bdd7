// Paths and environment shared by playwright.config.ts, the global setup and the tests,
// so the server the setup starts and the `latchkey coworker add` calls the tests make
// always point at the same database.
//
// The servers listen on ports the system picks (nothing is chosen beforehand that another
// process could take meanwhile). global-setup.ts starts them and puts their addresses in
// the environment (E2E_BASE_URL, E2E_MAILDEV_URL, E2E_SMTP_PORT), which the workers that
// run the tests inherit; so the values below are read when a worker loads this file.
import path from 'node:path';

/** Repository root: end2end/ lives directly below it. */
export const REPO_ROOT = path.resolve(__dirname, '..');

/** Scratch directory for one run: wiped before the servers start. */
export const E2E_DIR = path.join(REPO_ROOT, 'target', 'e2e');
export const SERVER_LOG = path.join(E2E_DIR, 'server.log');
export const MAILDEV_LOG = path.join(E2E_DIR, 'maildev.log');
export const READY_FILE = path.join(E2E_DIR, 'ready');
export const DATABASE_FILE = path.join(E2E_DIR, 'latchkey.db');

/** The server binary; LATCHKEY_BIN overrides it (e.g. a release build). */
export const LATCHKEY_BIN = process.env.LATCHKEY_BIN
  ? path.resolve(process.env.LATCHKEY_BIN)
  : path.join(REPO_ROOT, 'target', 'debug', 'latchkey');

export const SITE_ROOT = path.join(REPO_ROOT, 'target', 'site');

/** Where the browser reaches Latchkey, e.g. http://127.0.0.1:41234 (set by the setup). */
export const BASE_URL = process.env.E2E_BASE_URL ?? '';
/** maildev's web and REST API (set by the setup). */
export const MAILDEV_URL = process.env.E2E_MAILDEV_URL ?? '';

/** Environment of `latchkey serve` and of every CLI call the tests make. */
export function latchkeyEnv(smtpPort: string): Record<string, string> {
  return {
    // DATABASE_FILE is absolute, so this reads sqlite:///abs/path.db; on the PostgreSQL
    // pass, the database the global setup made (see database.ts).
    LATCHKEY_DATABASE_URL: process.env.E2E_DATABASE_URL || `sqlite://${DATABASE_FILE}`,
    LATCHKEY_CODE_KEY_FILE: path.join(E2E_DIR, 'code.key'),
    // Port 0: the port the server listens on.
    LATCHKEY_PUBLIC_URL: BASE_URL || 'http://127.0.0.1:0',
    LATCHKEY_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    LATCHKEY_MAIL_FROM: 'Latchkey <latchkey@example.test>',
    LATCHKEY_ORG_NAME: 'Acme',
    LATCHKEY_READY_FILE: READY_FILE,
    LEPTOS_SITE_ADDR: '127.0.0.1:0',
    LEPTOS_SITE_ROOT: SITE_ROOT,
    LEPTOS_SITE_PKG_DIR: 'pkg',
    LEPTOS_OUTPUT_NAME: 'latchkey',
    RUST_LOG: 'info',
    // Every browser here is 127.0.0.1; the limits themselves are tested in server/tests.
    LATCHKEY_RATE_LINKS_PER_MINUTE: '1000',
    LATCHKEY_RATE_SIGNIN_PER_IP_PER_MINUTE: '1000',
  };
}

export const LATCHKEY_ENV: Record<string, string> = latchkeyEnv(process.env.E2E_SMTP_PORT ?? '0');

// ---------------------------------------------------------------------------
// The gate (gate-setup.ts): a second Latchkey, configured as the gate in front of an
// echo application, behind real nginx and Caddy built from docs/gate/. Its host names
// are under latchkey.test, which the `gate` project's Chromium maps to 127.0.0.1.
// ---------------------------------------------------------------------------

export const GATE_DIR = path.join(E2E_DIR, 'gate');
export const GATE_DATABASE_FILE = path.join(GATE_DIR, 'latchkey.db');
export const GATE_SERVER_LOG = path.join(GATE_DIR, 'latchkey.log');
export const GATE_READY_FILE = path.join(GATE_DIR, 'ready');
/** Where the config files that are the documentation live. */
export const GATE_DOCS_DIR = path.join(REPO_ROOT, 'docs', 'gate');

/** The gate's Latchkey, e.g. http://login.latchkey.test:41234 (set by the setup). */
export const GATE_URL = process.env.E2E_GATE_URL ?? '';
/** The ports nginx (HTTPS) and Caddy (HTTP) listen on (set by the setup). */
export const GATE_NGINX_PORT = process.env.E2E_GATE_NGINX_PORT ?? '';
export const GATE_CADDY_PORT = process.env.E2E_GATE_CADDY_PORT ?? '';

/** Environment of the gate's `latchkey serve` and of the CLI calls against its database. */
export function gateLatchkeyEnv(smtpPort: string, publicUrl: string): Record<string, string> {
  return {
    ...latchkeyEnv(smtpPort),
    LATCHKEY_DATABASE_URL: `sqlite://${GATE_DATABASE_FILE}`,
    // Port 0: the port the server listens on; the cookie reaches every *.latchkey.test.
    LATCHKEY_PUBLIC_URL: publicUrl,
    LATCHKEY_COOKIE_DOMAIN: 'latchkey.test',
    LATCHKEY_READY_FILE: GATE_READY_FILE,
  };
}

export const GATE_LATCHKEY_ENV: Record<string, string> = gateLatchkeyEnv(
  process.env.E2E_SMTP_PORT ?? '0',
  GATE_URL || 'http://login.latchkey.test:0',
);
