// Shared fixtures and helpers for the Latchkey end-to-end tests.
import AxeBuilder from '@axe-core/playwright';
import { test as base, expect, type BrowserContext, type Locator, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { runSql } from '../database';
import { BASE_URL, LATCHKEY_BIN, LATCHKEY_ENV, MAILDEV_URL, REPO_ROOT } from '../e2e-env';

export { expect };

// ---------------------------------------------------------------------------
// Hydration
//
// Leptos renders every page on the server and makes it interactive only once
// the WASM bundle is loaded and hydrate() has run. A click that lands before
// that is lost (or becomes a plain form POST), and /link can only read its
// token from the fragment in the browser. So before interacting we wait until
// the page's WASM is instantiated. An init script wraps WebAssembly.instantiate
// and instantiateStreaming; wasm-bindgen's init resolves and the hydration
// script calls hydrate() in microtasks right after, so a flag raised one task
// later means hydrate() has run. This needs nothing from the app itself.
// ---------------------------------------------------------------------------

const READY_FLAG = '__latchkeyWasmReady';

function trackWasmInstantiation(flag: string): void {
  const host = window as unknown as Record<string, unknown>;
  host[flag] = false;
  const wasm = WebAssembly as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['instantiate', 'instantiateStreaming']) {
    const original = wasm[name];
    if (typeof original !== 'function') continue;
    wasm[name] = function (this: unknown, ...args: unknown[]) {
      return original.apply(this, args).then((result) => {
        setTimeout(() => {
          host[flag] = true;
        }, 0);
        return result;
      });
    };
  }
}

async function prepareContext(context: BrowserContext, violations: string[]): Promise<void> {
  await context.addInitScript(trackWasmInstantiation, READY_FLAG);
  // Chromium reports every Content-Security-Policy refusal on the console: a script or
  // style the policy blocks would otherwise fail silently. Every browser a test opens is
  // made here (the `context` and `newContext` fixtures), so this holds on every page it
  // loads: Latchkey on loopback, and in the gate project Latchkey by a name over plain
  // http (not a secure context, where browsers behave differently) and the applications
  // through nginx and Caddy.
  context.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) {
      // The page it happened on, without a fragment (a magic link's token).
      const page = (message.page()?.url() ?? message.location().url).split('#')[0];
      violations.push(`${page}: ${message.text()}`);
    }
  });
  // An exception no code caught (a browser API missing on plain http, say) is a bug the
  // person using the page would meet as a button that does nothing. Where a test refuses
  // the WASM on purpose, the loader's "Failed to fetch" is what it asked for.
  let wasmRefused = false;
  context.on('requestfailed', (request) => {
    if (new URL(request.url()).pathname.endsWith('.wasm')) wasmRefused = true;
  });
  context.on('weberror', (error) => {
    if (wasmRefused && error.error().message === 'Failed to fetch') return;
    const page = (error.page()?.url() ?? '').split('#')[0];
    violations.push(`${page}: uncaught ${error.error().message}`);
  });
}

/** Wait until the current document is hydrated (see above). */
export async function waitForHydration(page: Page): Promise<void> {
  try {
    await page.waitForFunction((flag) => (window as unknown as Record<string, unknown>)[flag] === true, READY_FLAG, {
      timeout: 15_000,
    });
  } catch (error) {
    throw new Error(
      `${page.url()} never hydrated (no WASM instantiated). Is target/site/pkg built by cargo leptos?\n${String(error)}`,
    );
  }
}

/** Fails on any serious or critical WCAG 2.1 A/AA violation axe-core finds on `page`. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const blocking = results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(blocking, `${what}: serious or critical accessibility violations`).toEqual([]);
}

/** Navigate and wait until the page is interactive. */
export async function gotoReady(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await waitForHydration(page);
}

type Fixtures = {
  /**
   * Opens an extra, isolated browser context (another person's browser), with the
   * project's address and certificate handling, watched like the default one.
   */
  newContext: () => Promise<BrowserContext>;
};

export const test = base.extend<Fixtures>({
  // The default context (the `page` fixture) also tracks hydration.
  context: async ({ context }, use) => {
    const violations: string[] = [];
    await prepareContext(context, violations);
    await use(context);
    expect(violations, 'no Content-Security-Policy violations and no uncaught errors').toEqual([]);
  },
  newContext: async ({ browser, baseURL, ignoreHTTPSErrors }, use) => {
    const opened: BrowserContext[] = [];
    const violations: string[] = [];
    await use(async () => {
      // browser.newContext() does not inherit the project's `use`; pass on what a second
      // browser of the same project needs (the gate project's: its address, and nginx's
      // throwaway certificate).
      const context = await browser.newContext({ baseURL, ignoreHTTPSErrors });
      await prepareContext(context, violations);
      opened.push(context);
      return context;
    });
    for (const context of opened) await context.close();
    expect(violations, 'no Content-Security-Policy violations and no uncaught errors').toEqual([]);
  },
});

// ---------------------------------------------------------------------------
// Test data and the CLI
// ---------------------------------------------------------------------------

/** A short tag that makes addresses unique across tests and runs. */
export function uniqueTag(): string {
  return `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
}

export function uniqueEmail(prefix: string): string {
  return `${prefix}-${uniqueTag()}@example.test`;
}

/**
 * Register a coworker through the CLI, against the same database as the running
 * server (which has already run the migrations).
 */
export function addCoworker(email: string, name: string, options: { admin?: boolean } = {}): void {
  const args = ['coworker', 'add', email, '--name', name, ...(options.admin ? ['--admin'] : [])];
  execFileSync(LATCHKEY_BIN, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...LATCHKEY_ENV },
    stdio: 'pipe',
    timeout: 30_000,
  });
}

/**
 * Move the live invitations to `email` into the past, as if their expiry had passed
 * (keeping each one's length). Nobody waits hours in a test; this writes the running
 * server's database the way another process may (see database.ts).
 */
export function expireLinksTo(email: string): void {
  runSql(
    'UPDATE magic_links SET created_at = created_at - (expires_at - created_at) - 10, '
      + 'expires_at = created_at - 10 WHERE recipient_email = $1 AND redeemed_at IS NULL '
      + 'AND revoked_at IS NULL',
    [email],
  );
}

// ---------------------------------------------------------------------------
// maildev (REST API under /api in maildev 3)
// ---------------------------------------------------------------------------

export interface MailAddress {
  address: string;
  name?: string;
}

export interface Mail {
  id: string;
  time: string;
  subject: string;
  from: MailAddress[];
  to: MailAddress[];
  text?: string;
  html?: string;
}

/** Every mail maildev received in this run, newest first. */
export async function allMails(): Promise<Mail[]> {
  const response = await fetch(`${MAILDEV_URL}/api/email`);
  if (!response.ok) throw new Error(`maildev answered ${response.status} to GET /api/email`);
  const mails = (await response.json()) as Mail[];
  return mails.sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
}

/**
 * Poll maildev until a mail to `to` (and, if given, with `subjectContains` in
 * its subject) arrives; Latchkey sends some mail after answering the request.
 */
export async function waitForMail(to: string, subjectContains?: string): Promise<Mail> {
  const wanted = to.toLowerCase();
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = (await allMails()).find(
      (mail) =>
        mail.to.some((recipient) => recipient.address.toLowerCase() === wanted) &&
        (subjectContains === undefined || mail.subject.includes(subjectContains)),
    );
    if (match) return match;
    if (Date.now() > deadline) {
      throw new Error(`no mail to ${to}${subjectContains ? ` with subject containing "${subjectContains}"` : ''} within 15 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Poll maildev until a mail to `to` arrives that is not one of `seen` (by maildev's id):
 * a later mail to the same address, whatever the order of the two mails' times (mails
 * sent within the same second may tie).
 */
export async function waitForAnotherMail(to: string, seen: Mail[], subjectContains?: string): Promise<Mail> {
  const wanted = to.toLowerCase();
  const known = new Set(seen.map((mail) => mail.id));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = (await allMails()).find(
      (mail) =>
        !known.has(mail.id) &&
        mail.to.some((recipient) => recipient.address.toLowerCase() === wanted) &&
        (subjectContains === undefined || mail.subject.includes(subjectContains)),
    );
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`no further mail to ${to} within 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Exactly 43 base64url characters after /link#, and not a 44th. */
const LINK_PATTERN = new RegExp(
  `${BASE_URL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/link#[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])`,
);
/** Any token anywhere (used by the leak scans). */
export const TOKEN_IN_LINK = /\/link#([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/g;

/** The one-time code of a mail (`Code: ABCD-EFGH` in its text part). */
export function extractCode(mail: Mail): string {
  const match = /Code: ([0-9A-Z]{4}-[0-9A-Z]{4})\b/.exec(mail.text ?? '');
  if (!match) throw new Error(`no code in the mail "${mail.subject}"`);
  return match[1];
}

/** Undo the few HTML escapes an HTML body may apply to a URL. */
function decodeHtmlEntities(html: string): string {
  return html
    .replace(/&#x2F;|&#47;/gi, '/')
    .replace(/&#x23;|&#35;/gi, '#')
    .replace(/&#x3D;|&#61;/gi, '=')
    .replace(/&amp;/g, '&');
}

/** The magic link of a mail; both the text and the HTML part must carry it. */
export function extractLink(mail: Mail): string {
  const found = (mail.text ?? '').match(LINK_PATTERN);
  expect(found, `the text part of "${mail.subject}" contains a magic link`).not.toBeNull();
  const link = found![0];
  expect(decodeHtmlEntities(mail.html ?? ''), 'the HTML part carries the same link').toContain(link);
  return link;
}

export function tokenOf(link: string): string {
  return link.slice(link.indexOf('#') + 1);
}

export function tokensInMails(mails: Mail[]): Set<string> {
  const tokens = new Set<string>();
  for (const mail of mails) {
    for (const match of `${mail.text ?? ''}\n${decodeHtmlEntities(mail.html ?? '')}`.matchAll(TOKEN_IN_LINK)) {
      tokens.add(match[1]);
    }
  }
  return tokens;
}

// ---------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------

/**
 * Sign a registered coworker in through the emailed link and land on
 * /dashboard. Returns the link that was used.
 */
export async function signInCoworker(page: Page, email: string): Promise<string> {
  await gotoReady(page, '/login');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Send sign-in link', exact: true }).click();
  await expect(page.getByText(/check your inbox/i).first()).toBeVisible();

  const link = extractLink(await waitForMail(email));
  await gotoReady(page, link);
  // Looking at the link shows whom it is for and consumes nothing.
  await expect(page.getByText(email).first()).toBeVisible();
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await waitForHydration(page);
  return link;
}

/**
 * A new coworker (`cw-TAG@example.test`, or `admin-TAG` with `admin`), named
 * `FIRSTNAME TAG`, signed in on `page`. Returns the tag and their address.
 */
export async function signInNewCoworker(
  page: Page,
  firstName: string,
  options: { admin?: boolean } = {},
): Promise<{ tag: string; email: string }> {
  const tag = uniqueTag();
  const email = `${options.admin ? 'admin' : 'cw'}-${tag}@example.test`;
  addCoworker(email, `${firstName} ${tag}`, options);
  await signInCoworker(page, email);
  return { tag, email };
}

export interface Invitation {
  email: string;
  name?: string;
  message?: string;
  /** Visible option text of "Expires in"; the default (24 hours) when absent. */
  expiresIn?: '15 minutes' | '1 hour' | '24 hours' | '7 days';
  /** Under "More options": where the invitee lands, and how long their session lasts. */
  destination?: string;
  sessionLasts?: '8 hours' | '7 days' | '30 days';
}

/** Issue a link from /dashboard and wait for the one-time display of it. */
export async function issueLink(page: Page, invitation: Invitation): Promise<void> {
  await page.getByLabel('Invitee email', { exact: true }).fill(invitation.email);
  if (invitation.name !== undefined) await page.getByLabel('Name', { exact: true }).fill(invitation.name);
  if (invitation.message !== undefined) await page.getByLabel('Message', { exact: true }).fill(invitation.message);
  if (invitation.expiresIn !== undefined) {
    await page.getByLabel('Expires in', { exact: true }).selectOption({ label: invitation.expiresIn });
  }
  if (invitation.destination !== undefined || invitation.sessionLasts !== undefined) {
    await page.getByText('More options', { exact: true }).click();
    if (invitation.destination !== undefined) {
      await page.getByLabel('Destination after sign-in', { exact: true }).fill(invitation.destination);
    }
    if (invitation.sessionLasts !== undefined) {
      await page.getByLabel('Session lasts', { exact: true }).selectOption({ label: invitation.sessionLasts });
    }
  }
  await page.getByRole('button', { name: 'Send magic link', exact: true }).click();
  // The one-time display of this link (an earlier one may still be on screen).
  const notice = page.locator('.issued', { hasText: invitation.email });
  await expect(notice.getByRole('button', { name: 'Copy link', exact: true })).toBeVisible();
}

/**
 * Open a magic link in `page`, check it names `email`, click Continue and
 * land on /welcome signed in.
 */
export async function redeemAsInvitee(page: Page, link: string, email: string): Promise<void> {
  await gotoReady(page, link);
  await expect(page.getByText(email).first()).toBeVisible();
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(page.getByText(`Signed in as ${email}`).first()).toBeVisible();
  await waitForHydration(page);
}

/**
 * Press `opener` (Revoke, End session: buttons that ask first), check that the modal
 * dialog it opens asks `question`, and answer with the dialog's button named `answer`
 * ("Revoke link", "End the session", "Cancel"). Returns once the dialog has closed.
 */
export async function answerConfirmation(page: Page, opener: Locator, question: string, answer: string): Promise<void> {
  await opener.click();
  const dialog = page.getByRole('dialog', { name: question, exact: true });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: answer, exact: true }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
}

/** The session cookie of a context, if any. */
export async function sessionCookie(context: BrowserContext) {
  return (await context.cookies(BASE_URL)).find((cookie) => cookie.name === 'latchkey_session');
}

/** The row of the links table that mentions `email`. */
/**
 * Narrows the links table to `email`'s links with the server's search, so a row is found
 * (or its absence proved) whatever page of the whole table it would be on.
 */
export async function searchLinks(page: Page, email: string): Promise<void> {
  const search = page.getByLabel('Search by email', { exact: true });
  await search.fill(email);
  await search.press('Enter');
  await expect(page.getByRole('table').or(page.getByText('No links match this filter.')).first()).toBeVisible();
  await expect(page.getByRole('table').getByRole('row').filter({ hasNotText: email }).filter({ has: page.getByRole('cell') })).toHaveCount(0);
}

/** The rows of the links table on screen that name `email` (see `searchLinks`). */
export function linkRow(page: Page, email: string): Locator {
  return page.getByRole('table').getByRole('row').filter({ hasText: email });
}

/** The cell of `row` under the table's "Status" column header. */
export async function statusCell(page: Page, row: Locator): Promise<Locator> {
  const table = page.getByRole('table');
  await expect(table.getByRole('columnheader', { name: 'Status', exact: true })).toBeVisible();
  // Polled: the table may be re-rendering (a refetch after Revoke) while it is read.
  let index = -1;
  await expect
    .poll(
      async () => {
        const headers = (await table.getByRole('columnheader').allInnerTexts()).map((text) => text.trim());
        index = headers.indexOf('Status');
        return index;
      },
      { message: 'the links table has a "Status" column' },
    )
    .toBeGreaterThanOrEqual(0);
  return row.locator('xpath=./th|./td').nth(index);
}

/** Whether the page shows `value` as text or inside a form field. */
export async function pageShows(page: Page, value: string): Promise<boolean> {
  return page.evaluate((needle) => {
    if (document.body.innerText.includes(needle)) return true;
    return Array.from(document.querySelectorAll('input, textarea')).some((field) =>
      (field as HTMLInputElement | HTMLTextAreaElement).value.includes(needle),
    );
  }, value);
}
