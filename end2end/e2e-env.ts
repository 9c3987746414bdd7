// Paths and environment shared by playwright.config.ts and the tests, so the
// server started by Playwright and the `latchkey coworker add` calls made by
// the tests always point at the same database.
import path from 'node:path';

/** Repository root: end2end/ lives directly below it. */
export const REPO_ROOT = path.resolve(__dirname, '..');

/** Scratch directory for one run: wiped before the server starts. */
export const E2E_DIR = path.join(REPO_ROOT, 'target', 'e2e');
export const SERVER_LOG = path.join(E2E_DIR, 'server.log');
export const DATABASE_FILE = path.join(E2E_DIR, 'latchkey.db');

/** The server binary; LATCHKEY_BIN overrides it (e.g. a release build). */
export const LATCHKEY_BIN = process.env.LATCHKEY_BIN
  ? path.resolve(process.env.LATCHKEY_BIN)
  : path.join(REPO_ROOT, 'target', 'debug', 'latchkey');

export const SITE_ROOT = path.join(REPO_ROOT, 'target', 'site');

export const BASE_URL = 'http://127.0.0.1:3100';
export const MAILDEV_SMTP_PORT = 1025;
export const MAILDEV_WEB_PORT = 1080;
export const MAILDEV_URL = `http://127.0.0.1:${MAILDEV_WEB_PORT}`;

/** Environment of `latchkey serve` and of every CLI call the tests make. */
export const LATCHKEY_ENV: Record<string, string> = {
  // DATABASE_FILE is absolute, so this reads sqlite:///abs/path.db.
  LATCHKEY_DATABASE_URL: `sqlite://${DATABASE_FILE}`,
  LATCHKEY_PUBLIC_URL: BASE_URL,
  LATCHKEY_SMTP_URL: `smtp://127.0.0.1:${MAILDEV_SMTP_PORT}`,
  LATCHKEY_MAIL_FROM: 'Latchkey <latchkey@example.test>',
  LATCHKEY_ORG_NAME: 'Acme',
  LEPTOS_SITE_ADDR: '127.0.0.1:3100',
  LEPTOS_SITE_ROOT: SITE_ROOT,
  LEPTOS_SITE_PKG_DIR: 'pkg',
  LEPTOS_OUTPUT_NAME: 'latchkey',
  RUST_LOG: 'info',
  // Every browser here is 127.0.0.1; the limits themselves are tested in server/tests.
  LATCHKEY_RATE_LINKS_PER_MINUTE: '1000',
  LATCHKEY_RATE_SIGNIN_PER_IP_PER_MINUTE: '1000',
};

/** Quote a string for POSIX sh. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
