import { defineConfig } from '@playwright/test';
import { BASE_URL } from './e2e-env';

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
      use: {
        browserName: 'chromium',
        // Never a downloaded browser: the system Chromium from apt.
        launchOptions: { executablePath: '/usr/bin/chromium', args: chromiumArgs },
      },
    },
  ],
});
