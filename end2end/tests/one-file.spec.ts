// One file to deploy: the binary `make test` builds carries the front end inside itself
// (server/build.rs, LATCHKEY_EMBED_SITE), as `make run` and `make dist` build it. Copied
// alone into an empty directory and started there with no LEPTOS_* variable, it serves
// every page, hydrated, with the front end compressed and cached as from disk.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LATCHKEY_BIN } from '../e2e-env';
import { listeningPorts, stop, tail, waitFor } from '../processes';
import { expect, gotoReady, issueLink, test } from './helpers';

let dir = '';
let server: ChildProcess | undefined;
let base = '';

/** Only what a person would set: nothing that points at the build tree. */
function env(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: dir,
    LEPTOS_SITE_ADDR: '127.0.0.1:0',
    // Port 0: the port it listens on (the printed sign-in link names another; see below).
    LATCHKEY_PUBLIC_URL: 'http://127.0.0.1:0',
    LATCHKEY_READY_FILE: path.join(dir, 'ready'),
    RUST_LOG: 'info',
  };
}

function latchkey(...args: string[]): string {
  return execFileSync('./latchkey', args, { cwd: dir, env: env(), encoding: 'utf8', timeout: 30_000 });
}

// `cargo leptos end-to-end` builds a binary that serves target/site from disk; every
// make target that runs the suite builds and marks the one that carries it.
test.skip(!process.env.LATCHKEY_EMBED_SITE, 'the binary under test was built without LATCHKEY_EMBED_SITE');

test.beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'latchkey-one-file-'));
  copyFileSync(LATCHKEY_BIN, path.join(dir, 'latchkey'));
  expect(readdirSync(dir)).toEqual(['latchkey']);
  const log = path.join(dir, 'server.log');
  const out = openSync(log, 'w');
  server = spawn('./latchkey', ['serve'], { cwd: dir, env: env(), stdio: ['ignore', out, out] });
  const ready = path.join(dir, 'ready');
  await waitFor('latchkey serve (from an empty directory)', log, server, () =>
    existsSync(ready) && readFileSync(ready, 'utf8').trim() ? true : undefined,
  );
  base = `http://127.0.0.1:${listeningPorts(server.pid!)[0]}`;
});

test.afterAll(async () => {
  await stop(server);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the binary alone in an empty directory serves every page, hydrated, from the front end it carries', async ({
  page,
  newContext,
}) => {
  // The front end, compressed, under its versioned name (as the page loads it) and its
  // plain one.
  const loaded: string[] = [];
  page.on('response', (response) => {
    if (/\.(wasm|js|css)$/.test(new URL(response.url()).pathname)) loaded.push(new URL(response.url()).pathname);
  });
  await gotoReady(page, `${base}/login`);
  const wasm = loaded.find((url) => url.endsWith('.wasm')) ?? '';
  expect(wasm, `the page loads its WASM (loaded: ${loaded.join(', ')})`).toMatch(/^\/pkg\/[0-9a-f]{16}\/latchkey\.wasm$/);
  for (const [url, cache] of [
    [wasm, 'public, max-age=31536000, immutable'],
    ['/pkg/latchkey.css', 'no-cache'],
  ]) {
    const answer = await page.request.get(`${base}${url}`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(answer.status(), url).toBe(200);
    expect(answer.headers()['content-encoding'], url).toBe('br');
    expect(answer.headers()['cache-control'], url).toBe(cache);
    expect(answer.headers()['vary'], url).toBe('accept-encoding');
  }
  expect((await page.request.get(`${base}/favicon.svg`)).headers()['content-type']).toBe('image/svg+xml');

  // The first coworker, let in as the README says, and the walk through every page.
  latchkey('coworker', 'add', 'first@example.test', '--name', 'First Coworker', '--admin');
  const signin = latchkey('signin-link', 'first@example.test').trim().split('\n').pop()!;
  expect(signin).toMatch(/\/link#/);
  await gotoReady(page, signin.replace(/^https?:\/\/[^/]+/, base));
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  for (const [route, heading] of [
    ['/dashboard/applications', 'Applications'],
    ['/dashboard/coworkers', 'Coworkers'],
    ['/code', 'Sign in with a code'],
    ['/nowhere', 'Page not found'],
    ['/login', 'Sign in to Latchkey'],
  ]) {
    await gotoReady(page, `${base}${route}`);
    await expect(page.getByRole('heading', { level: 1 }), route).toContainText(heading);
  }

  // An invitation, written to the outbox (no SMTP is configured), opened by the invitee.
  await gotoReady(page, `${base}/dashboard`);
  const invitee = 'invitee@example.test';
  await issueLink(page, { email: invitee });
  const outbox = path.join(dir, 'data', 'outbox');
  const mails = () =>
    existsSync(outbox)
      ? readdirSync(outbox)
          .filter((f) => f.endsWith('.eml'))
          .map((f) => readFileSync(path.join(outbox, f), 'utf8'))
      : [];
  await expect.poll(() => mails().length, { message: 'the invitation reaches the outbox' }).toBeGreaterThan(0);
  // Quoted-printable: soft line breaks and the encoded '='.
  const decoded = mails()
    .join('\n').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const link = /https?:\/\/[^\s"<>]+\/link#[A-Za-z0-9_-]{43}/.exec(decoded)?.[0];
  expect(link, 'the invitation in the outbox holds a link').toBeTruthy();
  const phone = await (await newContext()).newPage();
  await gotoReady(phone, link!.replace(/^https?:\/\/[^/]+/, base));
  await expect(phone.getByText(invitee).first()).toBeVisible();
  await phone.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(phone).toHaveURL(/\/welcome$/);
  await expect(phone.getByText(`Signed in as ${invitee}`).first()).toBeVisible();

  // Nothing but the data it was told to keep appeared beside the binary.
  expect(readdirSync(dir).sort(), tail(path.join(dir, 'server.log'))).toEqual(
    expect.arrayContaining(['data', 'latchkey']),
  );
  expect(existsSync(path.join(dir, 'target')), 'no site was looked for on disk').toBe(false);
});
