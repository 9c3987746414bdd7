// Starts what the suite needs, on ports the system picks, and stops it afterwards:
// maildev (the SMTP catcher) and `latchkey serve` on a fresh database. Their addresses
// go into the environment the test workers inherit (see e2e-env.ts). What this returns
// runs after the last test, failed or not: the leak scans over everything the run
// produced (leak-scan.ts), then both servers are stopped.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  DATABASE_FILE,
  GATE_DATABASE_FILE,
  GATE_SERVER_LOG,
  E2E_DIR,
  LATCHKEY_BIN,
  MAILDEV_LOG,
  READY_FILE,
  REPO_ROOT,
  SERVER_LOG,
  SITE_ROOT,
  latchkeyEnv,
} from './e2e-env';
import { startGate, type Gate } from './gate-setup';
import { scanForLeaks } from './leak-scan';
import { stop, waitFor } from './processes';

export default async function globalSetup(): Promise<() => Promise<void>> {
  rmSync(E2E_DIR, { recursive: true, force: true });
  mkdirSync(E2E_DIR, { recursive: true });
  if (!existsSync(LATCHKEY_BIN)) {
    throw new Error(`no latchkey binary at ${LATCHKEY_BIN}: build it first (cargo leptos build) or set LATCHKEY_BIN`);
  }
  if (!existsSync(path.join(SITE_ROOT, 'pkg'))) {
    console.warn(`warning: ${SITE_ROOT}/pkg is missing, pages will not hydrate`);
  }

  // Under with-postgres (make test's PostgreSQL pass), the server runs on a fresh
  // database of that cluster; the workers inherit its URL (see database.ts).
  const cluster = process.env.LATCHKEY_TEST_POSTGRES;
  if (cluster) {
    const name = `e2e_${process.pid}`;
    execFileSync('psql', [cluster, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${name}`], { stdio: 'pipe' });
    process.env.E2E_DATABASE_URL = cluster.replace(/\/[^/]*$/, `/${name}`);
  }

  let maildev: ChildProcess | undefined;
  let latchkey: ChildProcess | undefined;
  let gate: Gate | undefined;
  const stopAll = async () => {
    await gate?.stopAll();
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

    // The gate's own Latchkey behind nginx and Caddy (gate-setup.ts), for tests/gate.spec.ts.
    gate = await startGate(smtpPort);
    process.env.E2E_GATE_URL = gate.url;
    process.env.E2E_GATE_NGINX_PORT = String(gate.nginxPort);
    process.env.E2E_GATE_CADDY_PORT = String(gate.caddyPort);
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
        // The gate's Latchkey mails through the same maildev: its tokens are checked
        // against its own database and log.
        others: [{ databaseFile: GATE_DATABASE_FILE, serverLog: GATE_SERVER_LOG, stopServer: () => gate!.stopLatchkey() }],
      });
    } finally {
      await stopAll();
    }
  };
}
