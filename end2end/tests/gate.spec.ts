// Latchkey as the gate in front of the organisation's own applications, through real
// proxies running the config files of docs/gate/ (see gate-setup.ts): the same walks
// through nginx (auth_request, over HTTPS) and through Caddy (forward_auth, plain HTTP).
// The application is gate-echo.mjs, a page showing the identity headers it received.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from '@playwright/test';
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

/** A browser of its own for the invitee (the session cookie is shared by every host). */
async function inviteeBrowser(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  return { context, page: await context.newPage() };
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
  await expect(coworker.locator('.issued', { hasText: email }).getByRole('button', { name: 'Copy link' })).toBeVisible();

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
      browser,
    }) => {
      const { context, page: invitee } = await inviteeBrowser(browser);
      const email = await invite(page, invitee, proxy);

      await expect(invitee).toHaveURL(`${proxy.wiki.url}/`);
      await expect(invitee.locator('#application')).toHaveText('wiki');
      expect(await seen(invitee, 'remote-email')).toBe(email);
      expect(await seen(invitee, 'remote-user')).toBe(email);
      expect(await seen(invitee, 'remote-groups')).toBe('invitee');
      expect(await seen(invitee, 'remote-link')).toMatch(/^\d+$/);
      await context.close();
    });

    test(`an invitee opening an application their invitation does not name is refused (${proxy.name})`, async ({
      page,
      browser,
    }) => {
      const { context, page: invitee } = await inviteeBrowser(browser);
      await invite(page, invitee, proxy);
      await expect(invitee).toHaveURL(`${proxy.wiki.url}/`);

      const response = await invitee.goto(`${proxy.grafana.url}/dashboards`);
      expect(response?.status()).toBe(403);
      await expect(invitee.locator('#application')).toHaveCount(0);
      await context.close();
    });

    test(`after a revoke the invitee's next page load ends on Latchkey's welcome page (${proxy.name})`, async ({
      page,
      browser,
    }) => {
      const { context, page: invitee } = await inviteeBrowser(browser);
      const email = await invite(page, invitee, proxy);
      await expect(invitee).toHaveURL(`${proxy.wiki.url}/`);

      await searchLinks(page, email);
      await answerConfirmation(
        page,
        linkRow(page, email).getByRole('button', { name: 'Revoke', exact: true }),
        `Revoke the link for ${email}?`,
        'Revoke link',
      );

      await invitee.goto(`${proxy.wiki.url}/pages/roadmap`);
      await expect(invitee).toHaveURL(new RegExp(`^${GATE_URL.replace(/[.]/g, '\\.')}/welcome(\\?|$)`));
      await expect(invitee.getByText(/session has ended/i).first()).toBeVisible();
      await context.close();
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
  expect(lines.filter((line) => /example\.com|latchkey:3000|wiki:8080|grafana:3000/.test(line))).toEqual([]);
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
