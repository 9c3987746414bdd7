// Starts what the suite needs, on ports the system picks, and stops it afterwards:
// maildev (the SMTP catcher) and `latchkey serve` on a fresh database. Their addresses
// go into the environment the test workers inherit (see e2e-env.ts). What this returns
// runs after the last test, failed or not: the leak scans over everything the run
// produced (leak-scan.ts), then both servers are stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  DATABASE_FILE,
  E2E_DIR,
  LATCHKEY_BIN,
  MAILDEV_LOG,
  READY_FILE,
  REPO_ROOT,
  SERVER_LOG,
  SITE_ROOT,
  latchkeyEnv,
} from './e2e-env';
import { scanForLeaks } from './leak-scan';

/** Waits until `read` answers something, or fails naming `what` and its log. */
async function waitFor<T>(what: string, log: string, child: ChildProcess, read: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}):\n${tail(log)}`);
    }
    if (Date.now() > deadline) throw new Error(`${what} did not start within 60 s:\n${tail(log)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-30).join('\n') : '(no log)';
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(killer);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  rmSync(E2E_DIR, { recursive: true, force: true });
  mkdirSync(E2E_DIR, { recursive: true });
  if (!existsSync(LATCHKEY_BIN)) {
    throw new Error(`no latchkey binary at ${LATCHKEY_BIN}: build it first (cargo leptos build) or set LATCHKEY_BIN`);
  }
  if (!existsSync(path.join(SITE_ROOT, 'pkg'))) {
    console.warn(`warning: ${SITE_ROOT}/pkg is missing, pages will not hydrate`);
  }

  let maildev: ChildProcess | undefined;
  let latchkey: ChildProcess | undefined;
  const stopAll = async () => {
    await stop(latchkey);
    await stop(maildev);
  };
  try {
    // maildev reports the ports it bound.
    const maildevLog = openSync(MAILDEV_LOG, 'a');
    maildev = spawn(process.execPath, [path.join(__dirname, 'maildev-on-free-ports.mjs')], {
      cwd: __dirname,
      stdio: ['ignore', maildevLog, maildevLog],
    });
    const [smtpPort, webPort] = await waitFor('maildev', MAILDEV_LOG, maildev, () => {
      const log = existsSync(MAILDEV_LOG) ? readFileSync(MAILDEV_LOG, 'utf8') : '';
      const ports = /maildev listening: smtp (\d+) web (\d+)/.exec(log);
      return ports ? [ports[1], ports[2]] : undefined;
    });
    process.env.E2E_SMTP_PORT = smtpPort;
    process.env.E2E_MAILDEV_URL = `http://127.0.0.1:${webPort}`;

    // Every line the server writes lands in the log the leak scan reads.
    const serverLog = openSync(SERVER_LOG, 'a');
    latchkey = spawn(LATCHKEY_BIN, ['serve'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...latchkeyEnv(smtpPort) },
      stdio: ['ignore', serverLog, serverLog],
    });
    const addr = await waitFor('latchkey', SERVER_LOG, latchkey, () =>
      existsSync(READY_FILE) ? readFileSync(READY_FILE, 'utf8').trim() : undefined,
    );
    process.env.E2E_BASE_URL = `http://${addr}`;
    const health = await fetch(`${process.env.E2E_BASE_URL}/healthz`);
    if (health.status !== 200) throw new Error(`latchkey's health check answered ${health.status}`);
  } catch (error) {
    await stopAll();
    throw error;
  }

  return async () => {
    try {
      await scanForLeaks({
        baseUrl: process.env.E2E_BASE_URL!,
        maildevUrl: process.env.E2E_MAILDEV_URL!,
        env: latchkeyEnv(process.env.E2E_SMTP_PORT!),
        stopServer: () => stop(latchkey),
        databaseFile: DATABASE_FILE,
        serverLog: SERVER_LOG,
      });
    } finally {
      await stopAll();
    }
  };
}
