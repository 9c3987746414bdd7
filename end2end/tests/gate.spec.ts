// Latchkey as the gate in front of the organisation's own applications, through real
// proxies running the config files of docs/gate/ (see gate-setup.ts): the same walks
// through nginx (auth_request, over HTTPS) and through Caddy (forward_auth, plain HTTP).
// The application is gate-echo.mjs, a page showing the identity headers it received.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { BrowserContext, Page } from '@playwright/test';
import {
  GATE_CADDY_PORT,
  GATE_DIR,
  GATE_DOCS_DIR,
  GATE_LATCHKEY_ENV,
  GATE_NGINX_PORT,
  GATE_URL,
  LATCHKEY_BIN,
  REPO_ROOT,
} from '../e2e-env';
import { CADDY_DOC_MARKER, substitute, type Substitution } from '../gate-setup';
import {
  answerConfirmation,
  expect,
  gotoReady,
  linkRow,
  searchLinks,
  statusCell,
  test,
  uniqueEmail,
  uniqueTag,
  waitForHydration,
  waitForMail,
  type Mail,
} from './helpers';

interface Proxy {
  name: string;
  /** The application an invitation opens, and one it does not. */
  wiki: { name: string; url: string };
  grafana: { name: string; url: string };
  /** Whether the invitation must name the wiki (it is not the first application). */
  chooseAccess: boolean;
}

const PROXIES: Proxy[] = [
  {
    name: 'nginx',
    wiki: { name: 'Wiki', url: `https://wiki.latchkey.test:${GATE_NGINX_PORT}` },
    grafana: { name: 'Grafana', url: `https://grafana.latchkey.test:${GATE_NGINX_PORT}` },
    chooseAccess: false,
  },
  {
    name: 'Caddy',
    wiki: { name: 'Wiki (Caddy)', url: `http://wiki-caddy.latchkey.test:${GATE_CADDY_PORT}` },
    grafana: { name: 'Grafana (Caddy)', url: `http://grafana-caddy.latchkey.test:${GATE_CADDY_PORT}` },
    chooseAccess: true,
  },
];

// ---------------------------------------------------------------------------
// The gate's Latchkey: CLI, mail and sign-in
// ---------------------------------------------------------------------------

function addGateCoworker(email: string, name: string): void {
  execFileSync(LATCHKEY_BIN, ['coworker', 'add', email, '--name', name], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...GATE_LATCHKEY_ENV },
    stdio: 'pipe',
    timeout: 30_000,
  });
}

/** The gate Latchkey's magic link in a mail (its text part). */
function gateLink(mail: Mail): string {
  const escaped = GATE_URL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const found = (mail.text ?? '').match(new RegExp(`${escaped}/link#[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])`));
  expect(found, `"${mail.subject}" carries a link to ${GATE_URL}`).not.toBeNull();
  return found![0];
}

/** On Latchkey's /login (already open): ask for the link, open it, press Continue. */
async function signInFromLoginPage(page: Page, email: string): Promise<void> {
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Send sign-in link', exact: true }).click();
  await expect(page.getByText(/check your inbox/i).first()).toBeVisible();
  await gotoReady(page, gateLink(await waitForMail(email)));
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
}

/** A new coworker of the gate's Latchkey, signed in on `page`, on the dashboard. */
async function coworkerOnDashboard(page: Page): Promise<string> {
  const email = uniqueEmail('gate-cw');
  addGateCoworker(email, `Gate Coworker ${uniqueTag()}`);
  await gotoReady(page, `${GATE_URL}/login`);
  await signInFromLoginPage(page, email);
  await expect(page).toHaveURL(`${GATE_URL}/dashboard`);
  await waitForHydration(page);
  return email;
}

/**
 * A browser of its own for the invitee (the gate cookie is shared by every host), from
 * the `newContext` fixture: watched for Content-Security-Policy violations like the
 * coworker's, and closed after the test.
 */
async function inviteePage(newContext: () => Promise<BrowserContext>): Promise<Page> {
  return (await newContext()).newPage();
}

/**
 * A coworker (on `coworker`) invites a new address to `proxy`'s wiki; the invitee (on
 * `invitee`) opens the mailed link and presses Continue. Returns the invitee's address.
 */
async function invite(coworker: Page, invitee: Page, proxy: Proxy): Promise<string> {
  await coworkerOnDashboard(coworker);
  const email = uniqueEmail('gate-guest');
  await coworker.getByLabel('Invitee email', { exact: true }).fill(email);
  if (proxy.chooseAccess) {
    // Not the first application, so the invitation must name it.
    const access = coworker.getByRole('group', { name: 'Access to' });
    for (const box of await access.getByRole('checkbox').all()) await box.uncheck();
    await access.getByRole('checkbox', { name: proxy.wiki.name, exact: true }).check();
  }
  await coworker.getByRole('button', { name: 'Send magic link', exact: true }).click();
  const issued = coworker.locator('.issued', { hasText: email });
  // Latchkey by a name over plain http is no secure context: no clipboard for the page,
  // so Copy link selects the link for the person to copy.
  await issued.getByRole('button', { name: 'Copy link' }).click();
  await expect(issued.getByRole('status').filter({ hasText: 'Selected' })).toHaveText(
    'Selected: press Ctrl+C (⌘C on a Mac) to copy it.',
  );
  expect(
    await issued.getByRole('textbox').evaluate((input: HTMLInputElement) =>
      document.activeElement === input && input.selectionStart === 0 && input.selectionEnd === input.value.length,
    ),
    'the whole link is selected',
  ).toBe(true);

  await invitee.goto(gateLink(await waitForMail(email)));
  await expect(invitee.getByText(email).first()).toBeVisible();
  await invitee.getByRole('button', { name: 'Continue', exact: true }).click();
  return email;
}

/** What the echo application received, as its page shows it. */
async function seen(page: Page, field: string): Promise<string> {
  return (await page.locator(`#${field}`).textContent()) ?? '';
}

// ---------------------------------------------------------------------------
// The walks, through each proxy
// ---------------------------------------------------------------------------

for (const proxy of PROXIES) {
  test.describe(`through ${proxy.name}`, () => {
    test(`an invitee who presses Continue lands on the application, which sees them (${proxy.name})`, async ({
      page,
      newContext,
    }) => {
      const invitee = await inviteePage(newContext);
      const email = await invite(page, invitee, proxy);

      await expect(invitee).toHaveURL(`${proxy.wiki.url}/`);
      await expect(invitee.locator('#application')).toHaveText('wiki');
      expect(await seen(invitee, 'remote-email')).toBe(email);
      expect(await seen(invitee, 'remote-user')).toBe(email);
      expect(await seen(invitee, 'remote-groups')).toBe('invitee');
      expect(await seen(invitee, 'remote-link')).toMatch(/^\d+$/);
    });

    test(`an invitee opening an application their invitation does not name is refused (${proxy.name})`, async ({
      page,
      newContext,
    }) => {
      const invitee = await inviteePage(newContext);
      await invite(page, invitee, proxy);
      await expect(invitee).toHaveURL(`${proxy.wiki.url}/`);

      const response = await invitee.goto(`${proxy.grafana.url}/dashboards`);
      expect(response?.status()).toBe(403);
      await expect(invitee.locator('#application')).toHaveCount(0);
    });

    test(`after a revoke the invitee's next page load ends on Latchkey's welcome page (${proxy.name})`, async ({
      page,
      newContext,
    }) => {
      const invitee = await inviteePage(newContext);
      const email = await invite(page, invitee, proxy);
      await expect(invitee).toHaveURL(`${proxy.wiki.url}/`);

      await searchLinks(page, email);
      await answerConfirmation(
        page,
        linkRow(page, email).getByRole('button', { name: 'Revoke', exact: true }),
        `Revoke the link for ${email}?`,
        'Revoke link',
      );
      // The revoke has committed once the list shows it (the dialog closes before).
      await expect(await statusCell(page, linkRow(page, email))).toContainText('Revoked');

      await invitee.goto(`${proxy.wiki.url}/pages/roadmap`);
      await expect(invitee).toHaveURL(new RegExp(`^${GATE_URL.replace(/[.]/g, '\\.')}/welcome(\\?|$)`));
      await expect(invitee.getByText(/session has ended/i).first()).toBeVisible();
    });

    test(`a coworker who is not signed in signs in and returns to the address they asked for (${proxy.name})`, async ({
      page,
    }) => {
      const email = uniqueEmail('gate-cw');
      addGateCoworker(email, `Gate Coworker ${uniqueTag()}`);
      const asked = `${proxy.wiki.url}/pages/roadmap?tab=q3`;

      await page.goto(asked);
      await expect(page).toHaveURL(`${GATE_URL}/login?rd=${encodeURIComponent(asked)}`);
      await waitForHydration(page);
      await signInFromLoginPage(page, email);

      await expect(page).toHaveURL(asked);
      expect(await seen(page, 'path')).toBe('/pages/roadmap?tab=q3');
      expect(await seen(page, 'remote-email')).toBe(email);
      expect((await seen(page, 'remote-groups')).split(',')).toContain('coworker');
    });

    test(`identity headers a client sends itself never reach the application (${proxy.name})`, async ({ page }) => {
      const email = await coworkerOnDashboard(page);
      // Forged copies of every identity header on each request the browser sends.
      await page.setExtraHTTPHeaders({
        'Remote-User': 'mallory',
        'Remote-Email': 'mallory@example.test',
        'Remote-Name': 'Mallory',
        'Remote-Groups': 'forged-group',
        'Remote-Link': '999999',
      });
      const response = await page.goto(`${proxy.wiki.url}/`);
      expect(response?.status()).toBe(200);
      expect(await seen(page, 'remote-user')).toBe(email);
      expect(await seen(page, 'remote-email')).toBe(email);
      expect(await seen(page, 'remote-name')).toMatch(/^Gate Coworker /);
      expect((await seen(page, 'remote-groups')).split(',')).toContain('coworker');
      expect(await seen(page, 'remote-groups')).not.toContain('forged');
      // A coworker has no invitation: the forged Remote-Link must not survive.
      expect(await seen(page, 'remote-link')).toBe('');
    });
  });
}

// ---------------------------------------------------------------------------
// The configs the proxies ran are the documentation
// ---------------------------------------------------------------------------

/** Hosts, ports and paths: the only things a substitution may change. */
const REPLACEABLE = /^(listen 443 ssl;|[a-z]+\.example\.com( \{)?|(http:\/\/)?[a-z]+:\d+|\/etc\/ssl\/example\.com\/)$/;

function checkRanFromDoc(doc: string, ran: string, pairs: Substitution[]): void {
  for (const [from] of pairs) expect(from, 'a substitution replaces a host, a port or a path').toMatch(REPLACEABLE);
  const back = pairs.map(([from, to]): Substitution => [to, from]);
  expect(substitute(ran, back), 'the running config, substitutions undone, is the doc').toBe(doc);
  const lines = ran.split('\n').filter((line) => !line.trim().startsWith('#'));
  expect(lines.filter((line) => /example\.com|latchkey:3000|wiki:8080|grafana:3000|docs:8080|status:8080/.test(line))).toEqual([]);
}

test('the nginx and Caddy configs the walks ran are docs/gate/ with only hosts, ports and paths replaced', () => {
  const nginxPairs = JSON.parse(readFileSync(path.join(GATE_DIR, 'nginx', 'substitutions.json'), 'utf8'));
  checkRanFromDoc(
    readFileSync(path.join(GATE_DOCS_DIR, 'nginx.conf'), 'utf8'),
    readFileSync(path.join(GATE_DIR, 'nginx', 'site.conf'), 'utf8'),
    nginxPairs,
  );

  const caddyPairs = JSON.parse(readFileSync(path.join(GATE_DIR, 'caddy', 'substitutions.json'), 'utf8'));
  const caddyfile = readFileSync(path.join(GATE_DIR, 'caddy', 'Caddyfile'), 'utf8');
  const marker = caddyfile.indexOf(`${CADDY_DOC_MARKER}\n`);
  expect(marker, 'the test-only global options end at the marker').toBeGreaterThan(0);
  checkRanFromDoc(
    readFileSync(path.join(GATE_DOCS_DIR, 'Caddyfile'), 'utf8'),
    caddyfile.slice(marker + CADDY_DOC_MARKER.length + 1),
    caddyPairs,
  );
});

// ---------------------------------------------------------------------------
// Hostile requests through the shipped configs, sent as raw bytes (a browser would not
// send them): each answer must come from the application the request is allowed into,
// or from nobody.
// ---------------------------------------------------------------------------

interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/** Sends `request` as it is to the proxy on `port` (TLS with SNI `servername` for nginx). */
function raw(port: string, request: string, servername?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = servername
      ? tls.connect({ host: '127.0.0.1', port: Number(port), servername, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port: Number(port) });
    let data = '';
    socket.setEncoding('utf8');
    socket.once(servername ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => {
      const [head, ...body] = data.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: body.join('\r\n\r\n') });
    });
    socket.on('error', reject);
    socket.setTimeout(15_000, () => {
      socket.destroy();
      reject(new Error(`no answer to ${JSON.stringify(request.split('\r\n')[0])}; got so far: ${data}`));
    });
  });
}

/** The application the echo page that answered names, or '' (not an application's page). */
function servedBy(answer: RawAnswer): string {
  return /<dd id="application">([^<]*)<\/dd>/.exec(answer.body)?.[1] ?? '';
}

/** The browser's gate cookie, as a `Cookie` header pair. */
async function gateCookie(context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name === 'latchkey_gate');
  expect(cookie, 'the browser holds a gate cookie').toBeDefined();
  return `latchkey_gate=${cookie!.value}`;
}

test.describe('hostile requests through nginx', () => {
  const port = GATE_NGINX_PORT;
  const host = (name: string) => `${name}.latchkey.test:${port}`;

  test('an absolute request line is judged as the host nginx routes it to, whatever the Host header says', async ({
    page,
    newContext,
  }) => {
    // A Wiki-only invitee: nginx's first application is an invitation's default.
    const invitee = await inviteePage(newContext);
    await invite(page, invitee, PROXIES[0]);
    await expect(invitee).toHaveURL(`${PROXIES[0].wiki.url}/`);
    const cookie = await gateCookie(invitee.context());

    const grafana = `https://${host('grafana')}/headers`;
    for (const request of [
      `GET ${grafana} HTTP/1.1\r\nHost: ${host('wiki')}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
      `GET ${grafana} HTTP/1.0\r\nHost: ${host('wiki')}\r\nCookie: ${cookie}\r\n\r\n`,
      `GET ${grafana} HTTP/1.0\r\nCookie: ${cookie}\r\n\r\n`,
    ]) {
      const answer = await raw(port, request, `wiki.latchkey.test`);
      expect(servedBy(answer), request.split('\r\n')[0]).not.toBe('grafana');
      expect(answer.status, request.split('\r\n')[0]).toBe(403);
    }
    // The other way round: the Wiki it may reach, named by the request line.
    const wiki = await raw(
      port,
      `GET https://${host('wiki')}/x HTTP/1.1\r\nHost: ${host('grafana')}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
      'grafana.latchkey.test',
    );
    expect([wiki.status, servedBy(wiki)]).toEqual([200, 'wiki']);
    // No Host at all, and an empty authority: no application answers.
    for (const request of [
      `GET /headers HTTP/1.0\r\nCookie: ${cookie}\r\n\r\n`,
      `GET https:///grafana.latchkey.test/x HTTP/1.1\r\nHost: ${host('wiki')}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
      `GET https://${host('grafana')}@wiki.latchkey.test/x HTTP/1.1\r\nHost: ${host('wiki')}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
    ]) {
      const answer = await raw(port, request, 'wiki.latchkey.test');
      expect(servedBy(answer), request.split('\r\n')[0]).toBe('');
    }
  });

  test('a path that nginx and the gate could read differently is refused between path-prefix applications', async ({
    page,
    newContext,
  }) => {
    const docs: Proxy = {
      name: 'nginx',
      wiki: { name: 'Docs', url: `https://${host('apps')}/docs` },
      grafana: { name: 'Status', url: `https://${host('apps')}/status` },
      chooseAccess: true,
    };
    const invitee = await inviteePage(newContext);
    await invite(page, invitee, docs);
    // nginx adds the slash its location names.
    await expect(invitee).toHaveURL(`${docs.wiki.url}/`);
    const cookie = await gateCookie(invitee.context());
    const get = (target: string) =>
      raw(port, `GET ${target} HTTP/1.1\r\nHost: ${host('apps')}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`, 'apps.latchkey.test');

    const inside = await get('/docs/page');
    expect([inside.status, servedBy(inside)]).toEqual([200, 'docs']);
    const other = await get('/status/page');
    expect([other.status, servedBy(other)]).toEqual([403, '']);
    for (const target of [
      '/docs/..%2Fstatus/page',
      '/docs/..%2fstatus/page',
      '/docs/%2e%2e/status/page',
      '/docs/.%2E/status/page',
      '/docs/../status/page',
      '/docs/..%5Cstatus/page',
      '/docs/..\\status/page',
      '/docs//../status/page',
      '/docs/x/%2E%2E/%2e%2e/status/page',
      '/%64ocs/../status/page',
      '/%73tatus/page',
      '//status/page',
    ]) {
      const answer = await get(target);
      expect(servedBy(answer), target).not.toBe('status');
      // Refused by the gate (403), or by nginx itself (400): never passed on.
      expect([400, 403], target).toContain(answer.status);
    }
  });

  test('the cookies an application receives open nothing on Latchkey', async ({ page, newContext }) => {
    const invitee = await inviteePage(newContext);
    await invite(page, invitee, PROXIES[0]);
    await expect(invitee).toHaveURL(`${PROXIES[0].wiki.url}/`);
    const received = await seen(invitee, 'cookie');
    expect(received, 'nginx removed the gate cookie').not.toContain('latchkey_gate');
    expect(received, "Latchkey's own cookie is host-only").not.toContain('latchkey_session');

    // Even the gate cookie itself, had an application kept it, is refused by the API.
    // (Node resolves no *.latchkey.test name: Latchkey itself is asked by its address.)
    const latchkeyDirect = GATE_URL.replace('login.latchkey.test', '127.0.0.1');
    const cookie = await gateCookie(invitee.context());
    for (const replayed of [received, cookie, `${received}; ${cookie}`.replace(/^; /, '')]) {
      const me = await fetch(`${latchkeyDirect}/api/current_user`, {
        method: 'POST',
        headers: { cookie: replayed, 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect([me.status, await me.text()], replayed).toEqual([200, 'null']);
      const links = await fetch(`${latchkeyDirect}/api/list_links`, {
        method: 'POST',
        headers: { cookie: replayed, 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      expect(links.status, replayed).toBe(401);
    }
  });

  test('the gate does not answer through the public site, registered address or not', async () => {
    const answers = new Set<string>();
    for (const target of ['/gate/auth-request', '/gate/forward-auth', '/gate%2Fauth-request', '//gate/auth-request', '/gate/../gate/auth-request']) {
      for (const asked of [`https://${host('wiki')}/`, 'https://unregistered.latchkey.test/']) {
        const answer = await raw(
          port,
          `GET ${target} HTTP/1.1\r\nHost: ${host('login-nginx')}\r\nX-Original-URL: ${asked}\r\nX-Forwarded-Host: ${asked.split('/')[2]}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Uri: /\r\nConnection: close\r\n\r\n`,
          'login-nginx.latchkey.test',
        );
        expect(answer.head, `${target} for ${asked}`).not.toMatch(/^location:/im);
        answers.add(`${target} ${answer.status}`);
      }
    }
    // Each path answers the same for a registered and an unregistered address.
    expect(answers.size).toBe(5);
    expect([...answers].every((answer) => !answer.endsWith(' 401') && !answer.endsWith(' 403'))).toBe(true);
  });
});

test.describe('hostile requests through Caddy', () => {
  const port = GATE_CADDY_PORT;
  const host = (name: string) => `${name}-caddy.latchkey.test:${port}`;

  test('an absolute request line is judged as the host Caddy routes it to', async ({ page, newContext }) => {
    const invitee = await inviteePage(newContext);
    await invite(page, invitee, PROXIES[1]);
    await expect(invitee).toHaveURL(`${PROXIES[1].wiki.url}/`);
    const cookie = await gateCookie(invitee.context());
    const grafana = `http://${host('grafana')}/headers`;
    for (const request of [
      `GET ${grafana} HTTP/1.1\r\nHost: ${host('wiki')}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
      `GET ${grafana} HTTP/1.0\r\nHost: ${host('wiki')}\r\nCookie: ${cookie}\r\n\r\n`,
    ]) {
      const answer = await raw(port, request);
      expect(servedBy(answer), request.split('\r\n')[0]).not.toBe('grafana');
    }
    const received = await seen(invitee, 'cookie');
    expect(received, 'Caddy removed the gate cookie').not.toContain('latchkey_gate');
  });

  test('the gate does not answer through the public site, registered address or not', async () => {
    const answers = new Set<string>();
    for (const target of ['/gate/forward-auth', '/gate/auth-request', '/GATE/forward-auth', '/gate%2Fforward-auth']) {
      for (const asked of [host('wiki'), 'unregistered.latchkey.test']) {
        const answer = await raw(
          port,
          `GET ${target} HTTP/1.1\r\nHost: ${host('login')}\r\nX-Forwarded-Host: ${asked}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Uri: /\r\nX-Original-URL: http://${asked}/\r\nConnection: close\r\n\r\n`,
        );
        expect(answer.head, `${target} for ${asked}`).not.toMatch(/^location:/im);
        answers.add(`${target} ${answer.status}`);
      }
    }
    expect(answers.size).toBe(4);
    expect([...answers].every((answer) => !answer.endsWith(' 401') && !answer.endsWith(' 403'))).toBe(true);
  });
});
