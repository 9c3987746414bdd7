import { defineConfig } from '@playwright/test';
import { BASE_URL, GATE_URL } from './e2e-env';

// global-setup.ts starts maildev and latchkey on ports the system picks and stops them
// after the last test (failed or not); the workers read their addresses from the
// environment the setup leaves them (e2e-env.ts), so BASE_URL is set here in a worker.
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
  globalSetup: './global-setup.ts',
  // One browser at a time against one server and one mail catcher. No test relies on
  // another having run before it.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: 'list',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL: BASE_URL || undefined,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      testIgnore: /gate\.spec\.ts/,
      use: {
        browserName: 'chromium',
        // Never a downloaded browser: the system Chromium from apt.
        launchOptions: { executablePath: '/usr/bin/chromium', args: chromiumArgs },
      },
    },
    // Latchkey as the gate in front of an application, behind real nginx and Caddy
    // (gate-setup.ts). Every *.latchkey.test name is this machine; nginx's certificate
    // is a throwaway one made for the run.
    {
      name: 'gate',
      testMatch: /gate\.spec\.ts/,
      use: {
        browserName: 'chromium',
        baseURL: GATE_URL || undefined,
        ignoreHTTPSErrors: true,
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: [...chromiumArgs, '--host-resolver-rules=MAP *.latchkey.test 127.0.0.1'],
        },
      },
    },
  ],
});
