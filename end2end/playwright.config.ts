import { defineConfig } from '@playwright/test';
import path from 'node:path';
import {
  BASE_URL,
  E2E_DIR,
  LATCHKEY_BIN,
  LATCHKEY_ENV,
  MAILDEV_SMTP_PORT,
  MAILDEV_URL,
  MAILDEV_WEB_PORT,
  REPO_ROOT,
  SERVER_LOG,
  SITE_ROOT,
  shellQuote as q,
} from './e2e-env';

// Playwright (checked in 1.65.1, runner/index.js createGlobalSetupTasks) starts
// the webServer plugins BEFORE it runs globalSetup. A globalSetup that wiped the
// database would therefore delete it under a running server, so the fresh
// target/e2e/ is made by the server's own command, right before `exec`.
// (`reuseExistingServer: false` makes Playwright refuse to start, and so to wipe
// anything, when something already listens on the port.)
const latchkeyCommand = [
  `rm -rf ${q(E2E_DIR)}`,
  `mkdir -p ${q(E2E_DIR)}`,
  `{ [ -x ${q(LATCHKEY_BIN)} ] || { echo "no latchkey binary at ${LATCHKEY_BIN}: build it first (cargo leptos build) or set LATCHKEY_BIN" >&2; exit 1; }; }`,
  `{ [ -d ${q(path.join(SITE_ROOT, 'pkg'))} ] || echo "warning: ${SITE_ROOT}/pkg is missing, pages will not hydrate" >&2; }`,
  // exec: the shell becomes the server, so Playwright's signal reaches it directly;
  // every line of stdout and stderr lands in the log that zz-log-scan reads.
  `exec ${q(LATCHKEY_BIN)} serve >> ${q(SERVER_LOG)} 2>&1`,
].join(' && ');

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: './tests',
  // One browser at a time against one server and one mail catcher; files run in
  // alphabetical order, so zz-log-scan.spec.ts runs last.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: 'list',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL: BASE_URL,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        // Never a downloaded browser: the system Chromium from apt.
        launchOptions: { executablePath: '/usr/bin/chromium', args: chromiumArgs },
      },
    },
  ],
  webServer: [
    {
      name: 'maildev',
      // maildev 3 declares its bin as dist/bin/maildev.js (there is no bin/maildev).
      command: `node node_modules/maildev/dist/bin/maildev.js --ip 127.0.0.1 --web-ip 127.0.0.1 -s ${MAILDEV_SMTP_PORT} -w ${MAILDEV_WEB_PORT}`,
      // maildev 3 serves its REST API under /api; /healthz itself is a 404.
      url: `${MAILDEV_URL}/api/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
    },
    {
      name: 'latchkey',
      command: latchkeyCommand,
      cwd: REPO_ROOT,
      env: LATCHKEY_ENV,
      url: `${BASE_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      // SIGTERM first so SQLite is closed cleanly; Playwright SIGKILLs after 5 s.
      gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
    },
  ],
});
