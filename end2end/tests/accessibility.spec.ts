// Every page, in the states people see it in, checked with axe-core: a serious or
// critical violation fails the suite. The same walk takes the README's screenshots
// (into SCREENSHOT_DIR, by default target/e2e/screenshots; `make screenshots` writes
// docs/screenshots).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { BASE_URL, E2E_DIR, LATCHKEY_BIN, LATCHKEY_ENV, REPO_ROOT } from '../e2e-env';
import {
  addCoworker,
  expect,
  expectAccessible,
  expireLinksTo,
  extractLink,
  gotoReady,
  issueLink,
  linkRow,
  signInCoworker,
  statusCell,
  test,
  uniqueEmail,
  waitForHydration,
  waitForMail,
} from './helpers';

const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR
  ? path.resolve(REPO_ROOT, process.env.SCREENSHOT_DIR)
  : path.join(E2E_DIR, 'screenshots');

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

test.use({ viewport: { width: 1280, height: 800 } });

// People as the README's screenshots show them, each address tagged for this run (plus
// addressing), so that no other spec, and no earlier run on the same database, can
// hold an address these tests expect to be new.
const tag = Math.random().toString(36).slice(2, 8);
const person = (local: string, domain: string) => `${local}+${tag}@${domain}`;
const who = {
  ada: person('ada', 'acme.example'),
  grace: person('grace', 'partner.example'),
  alan: person('alan', 'partner.example'),
  ken: person('ken', 'partner.example'),
  margaret: person('margaret', 'acme.example'),
  barbara: person('barbara', 'acme.example'),
  frances: person('frances', 'partner.example'),
  hedy: person('hedy', 'acme.example'),
  claude: person('claude', 'partner.example'),
};

test('every page passes axe, and the README screenshots are taken', async ({ page, newContext }) => {
  test.slow();
  const coworker = who.ada;
  addCoworker(coworker, 'Ada Lovelace', { admin: true });

  await gotoReady(page, '/login');
  await expectAccessible(page, '/login');

  await signInCoworker(page, coworker);
  // A filter that matches nothing (the dashboard itself may hold other tests' links).
  const search = page.getByLabel('Search by email', { exact: true });
  await search.fill('nobody-at-all@nowhere.example');
  await search.press('Enter');
  await expect(page.getByText('No links match this filter.')).toBeVisible();
  await expectAccessible(page, '/dashboard, a filter that matches nothing');
  await gotoReady(page, '/dashboard');
  // A form error, as the server words it.
  await page.getByLabel('Invitee email', { exact: true }).fill(who.grace);
  await page.getByText('More options', { exact: true }).click();
  await page.getByLabel('Destination after sign-in', { exact: true }).fill('//elsewhere.example');
  await page.getByRole('button', { name: 'Send magic link', exact: true }).click();
  await expect(page.getByRole('alert')).toBeVisible();
  await expectAccessible(page, '/dashboard, a form error');
  await gotoReady(page, '/dashboard');
  await issueLink(page, {
    email: who.grace,
    name: 'Grace Hopper',
    message: 'Here is the access to the design review we talked about.',
  });
  // The new link, shown once with Copy link.
  await expectAccessible(page, '/dashboard, the one-time Copy link notice');
  await issueLink(page, { email: who.alan, name: 'Alan Turing', expiresIn: '7 days' });
  const invitation = await waitForMail(who.grace);
  const link = extractLink(invitation);
  await page.reload();
  await waitForHydration(page);
  await page.getByText('More options', { exact: true }).click();
  await expectAccessible(page, '/dashboard, with links and options open');
  await page.getByText('More options', { exact: true }).click();
  await screenshot(page, 'dashboard');

  // The invitee's side: the landing page, then the welcome page.
  const invitee = await (await newContext()).newPage();
  await invitee.setViewportSize({ width: 1280, height: 800 });
  await gotoReady(invitee, link);
  await expect(invitee.getByRole('button', { name: 'Continue', exact: true })).toBeVisible();
  await expectAccessible(invitee, '/link, a live link');
  await screenshot(invitee, 'link');
  await invitee.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(invitee).toHaveURL(/\/welcome$/);
  await waitForHydration(invitee);
  await expectAccessible(invitee, '/welcome');
  await screenshot(invitee, 'welcome');

  // A used link, with the offer of a new one, and after asking for it.
  const late = await (await newContext()).newPage();
  await gotoReady(late, link);
  await expect(late.getByRole('button', { name: 'Send me a new link', exact: true })).toBeVisible();
  await expectAccessible(late, '/link, a used link');
  await late.getByRole('button', { name: 'Send me a new link', exact: true }).click();
  await expect(late.getByRole('status')).toContainText('A new link is on its way');
  await expectAccessible(late, '/link, a new link requested');

  // Revoked, expired and unknown links.
  const alanLink = extractLink(await waitForMail(who.alan));
  await gotoReady(page, '/dashboard');
  const alanRow = page.getByRole('row').filter({ hasText: who.alan });
  // Revoke asks first, in a modal dialog.
  await alanRow.getByRole('button', { name: 'Revoke', exact: true }).click();
  const confirmRevoke = page.getByRole('dialog', { name: `Revoke the link for ${who.alan}?` });
  await expect(confirmRevoke).toBeVisible();
  await expectAccessible(page, '/dashboard, confirming a revoke');
  await confirmRevoke.getByRole('button', { name: 'Revoke link', exact: true }).click();
  await expect(alanRow.getByRole('button', { name: 'Revoke', exact: true })).toHaveCount(0);
  const states = await (await newContext()).newPage();
  await gotoReady(states, alanLink);
  await expect(states.getByText('This link was revoked').first()).toBeVisible();
  await expectAccessible(states, '/link, a revoked link');
  await issueLink(page, { email: who.ken, name: 'Ken Thompson' });
  const kenLink = extractLink(await waitForMail(who.ken));
  expireLinksTo(who.ken);
  const expired = await (await newContext()).newPage();
  await gotoReady(expired, kenLink);
  await expect(expired.getByText('This link has expired').first()).toBeVisible();
  await expectAccessible(expired, '/link, an expired link');
  const unknown = await (await newContext()).newPage();
  await gotoReady(unknown, `/link#${'A'.repeat(43)}`);
  await expect(unknown.getByText('This link is not valid').first()).toBeVisible();
  await expectAccessible(unknown, '/link, an unknown link');

  // The coworker's view of that link, and the coworkers page.
  await gotoReady(page, '/dashboard');
  // Two links for Grace now (the renewal made one): the older one has her session.
  await page.getByRole('link', { name: who.grace, exact: true }).last().click();
  await expect(page).toHaveURL(/\/dashboard\/links\/\d+$/);
  await waitForHydration(page);
  await expect(page.getByRole('button', { name: 'End session', exact: true })).toBeVisible();
  await expectAccessible(page, '/dashboard/links/ID');
  await screenshot(page, 'link-details');
  await page.getByRole('button', { name: 'End session', exact: true }).click();
  await expect(page.getByRole('dialog', { name: `End this session of ${who.grace}?` })).toBeVisible();
  await expectAccessible(page, '/dashboard/links/ID, confirming End session');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await gotoReady(page, '/dashboard/coworkers');
  await expectAccessible(page, '/dashboard/coworkers');
  await page.getByLabel('Coworker email', { exact: true }).fill(who.margaret);
  await page.getByRole('button', { name: 'Add coworker', exact: true }).click();
  await expect(page.getByRole('status')).toContainText('Added');
  await expectAccessible(page, '/dashboard/coworkers, a coworker added');

  // Refused for going too fast: five sign-in requests an hour per address and network.
  const hurried = await (await newContext()).newPage();
  for (let i = 0; i < 5; i++) {
    await hurried.request.post('/api/request_signin', { headers: { accept: 'application/json' }, form: { email: who.margaret } });
  }
  await gotoReady(hurried, '/login');
  await hurried.getByLabel('Email', { exact: true }).fill(who.margaret);
  await hurried.getByRole('button', { name: 'Send sign-in link', exact: true }).click();
  await expect(hurried.getByRole('alert')).toContainText('Please wait');
  await expectAccessible(hurried, '/login, refused for going too fast');

  // Signed out and not found.
  // Signing out loads /welcome again, now signed out.
  await invitee.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(invitee.getByText(/not signed in/i).first()).toBeVisible();
  await waitForHydration(invitee);
  await expectAccessible(invitee, '/welcome, signed out');
  await invitee.goto('/no-such-page');
  await expectAccessible(invitee, 'the not-found page');
});

// Applications are shared by the whole server: the walk below removes the one it registers
// from the Applications page, and should it fail before that, it goes here, so the tests
// after it see no application they did not register.
const HANDBOOK = 'Handbook';

/** Runs `latchkey ARGS` against the suite's server's database; answers what it printed. */
function latchkey(args: string[]): string {
  return execFileSync(LATCHKEY_BIN, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...LATCHKEY_ENV },
    stdio: 'pipe',
    timeout: 30_000,
  }).toString();
}

test.afterEach(() => {
  try {
    latchkey(['app', 'remove', HANDBOOK]);
  } catch {
    // Not registered: the walk removed it, or never got that far.
  }
});

test('the pages of the applications behind the gate pass axe', async ({ page, newContext }) => {
  test.slow();
  const admin = who.barbara;
  addCoworker(admin, 'Barbara Liskov', { admin: true });
  // "None yet" is a state of the whole server, whatever other specs registered before
  // this one (in whatever order they run): made here, not assumed.
  for (const line of latchkey(['app', 'list']).split('\n').filter(Boolean)) {
    latchkey(['app', 'remove', line.split('\t')[0]]);
  }
  await signInCoworker(page, admin);

  // None yet, an address refused, one registered (on Latchkey's own origin, so an
  // invitation that opens it lands on /welcome).
  await page.getByRole('link', { name: 'Applications', exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard\/applications$/);
  await waitForHydration(page);
  await expect(page.getByText('No application is registered yet.', { exact: false })).toBeVisible();
  await expectAccessible(page, '/dashboard/applications, none registered');
  await page.getByLabel('Name', { exact: true }).fill(HANDBOOK);
  await page.getByLabel('Base URL', { exact: true }).fill('handbook');
  await page.getByRole('button', { name: 'Add application', exact: true }).click();
  await expect(page.getByRole('alert')).toBeVisible();
  await expectAccessible(page, '/dashboard/applications, an address refused');
  await page.getByLabel('Base URL', { exact: true }).fill(`${BASE_URL}/welcome`);
  await page.getByRole('button', { name: 'Add application', exact: true }).click();
  await expect(page.getByRole('status')).toContainText(`Added ${HANDBOOK}`);
  await expectAccessible(page, '/dashboard/applications, one registered');
  await screenshot(page, 'applications');

  // The issue form's "Access to", then the link's Access section: narrowing saves at
  // once, widening asks first.
  await gotoReady(page, '/dashboard');
  await expect(page.getByRole('group', { name: 'Access to', exact: true })).toBeVisible();
  await expectAccessible(page, '/dashboard, with Access to');
  await issueLink(page, { email: who.frances, name: 'Frances Allen' });
  const link = extractLink(await waitForMail(who.frances));
  await page.getByRole('link', { name: who.frances, exact: true }).first().click();
  await expect(page).toHaveURL(/\/dashboard\/links\/\d+$/);
  await waitForHydration(page);
  const access = page.getByRole('region', { name: 'Access', exact: true });
  await access.getByRole('checkbox', { name: HANDBOOK, exact: true }).uncheck();
  await access.getByRole('button', { name: 'Save access', exact: true }).click();
  await expect(access.getByText('This invitation opens no application.')).toBeVisible();
  await access.getByRole('checkbox', { name: HANDBOOK, exact: true }).check();
  await expectAccessible(page, '/dashboard/links/ID, choosing applications');
  await access.getByRole('button', { name: 'Save access', exact: true }).click();
  const widen = page.getByRole('dialog', { name: `Widen access: Frances Allen will also reach ${HANDBOOK}` });
  await expect(widen).toBeVisible();
  await expectAccessible(page, '/dashboard/links/ID, confirming wider access');
  await widen.getByRole('button', { name: 'Widen access', exact: true }).click();
  await expect(access.getByRole('list', { name: 'Opens' })).toContainText(HANDBOOK);

  // The invitee's welcome page lists what their session opens.
  const invitee = await (await newContext()).newPage();
  await gotoReady(invitee, link);
  await invitee.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(invitee).toHaveURL(/\/welcome$/);
  await waitForHydration(invitee);
  await expect(invitee.getByRole('link', { name: HANDBOOK, exact: true })).toBeVisible();
  await expectAccessible(invitee, '/welcome, with the applications it opens');

  // Signing in and out from an application.
  const returning = await (await newContext()).newPage();
  await gotoReady(returning, `/login?rd=${encodeURIComponent(`${BASE_URL}/welcome`)}`);
  await expect(returning.getByText(`takes you back to ${HANDBOOK}`)).toBeVisible();
  await expectAccessible(returning, '/login, returning to an application');
  await gotoReady(invitee, `/sign-out?rd=${encodeURIComponent(`${BASE_URL}/welcome/x`)}`);
  await expect(invitee.getByRole('button', { name: 'Sign out', exact: true })).toBeVisible();
  await expectAccessible(invitee, '/sign-out');
  await invitee.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(invitee).toHaveURL(/\/welcome\/x$/);
  await gotoReady(invitee, `/welcome?rd=${encodeURIComponent(`${BASE_URL}/welcome/x`)}`);
  await expect(invitee.getByText(`Your ${HANDBOOK} session has ended.`, { exact: false })).toBeVisible();
  await expectAccessible(invitee, '/welcome, a session for an application ended');

  // Removing it asks first.
  await gotoReady(page, '/dashboard/applications');
  await page.getByRole('button', { name: 'Remove', exact: true }).click();
  const remove = page.getByRole('dialog', { name: `Remove ${HANDBOOK}?` });
  await expect(remove).toBeVisible();
  await expectAccessible(page, '/dashboard/applications, confirming a removal');
  await remove.getByRole('button', { name: 'Remove application', exact: true }).click();
  await expect(page.getByText('No application is registered yet.', { exact: false })).toBeVisible();
});

test('the refusals for going too fast pass axe: renewing a link and issuing', async ({ page, newContext }) => {
  test.slow();
  const coworker = uniqueEmail('cw-hurried');
  addCoworker(coworker, 'Harriet Hurry');
  await signInCoworker(page, coworker);

  // A used invitation is renewed once in ten minutes: asked again at once, it is refused.
  const invitee = uniqueEmail('renewer');
  await issueLink(page, { email: invitee, name: 'Ren Ewer' });
  const link = extractLink(await waitForMail(invitee));
  const holder = await (await newContext()).newPage();
  await gotoReady(holder, link);
  await holder.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(holder).toHaveURL(/\/welcome$/);
  for (const expected of ['A new link is on its way', 'Please wait']) {
    const late = await (await newContext()).newPage();
    await gotoReady(late, link);
    await late.getByRole('button', { name: 'Send me a new link', exact: true }).click();
    // A renewal is answered on the page: a status when sent, the heading when refused.
    const said = expected === 'Please wait' ? late.getByRole('heading', { level: 1 }) : late.getByRole('status');
    await expect(said).toContainText(expected);
    if (expected === 'Please wait') await expectAccessible(late, '/link, a renewal refused for going too fast');
  }

  // Issuing: the coworker's budget (60 a minute) spent through the API, then the form
  // is refused. The budget comes back one a second, so a send that took longer than
  // that since the last API call finds one back: each try spends the budget again
  // first, and only the moment between that and the form's send must be under a second.
  const spend = async () => {
    for (let i = 0; ; i += 1) {
      expect(i, 'the issuing budget was never spent').toBeLessThan(200);
      const answer = await page.request.post('/api/issue_link', {
        headers: { accept: 'application/json' },
        form: { email: uniqueEmail('burst'), expires_in: '24h' },
      });
      if (answer.status() === 429) return;
      expect(answer.status()).toBe(200);
    }
  };
  await gotoReady(page, '/dashboard');
  const refused = page.getByRole('alert').filter({ hasText: 'Please wait' });
  for (let i = 0; !(await refused.isVisible()); i += 1) {
    expect(i, 'the form was never refused').toBeLessThan(20);
    const email = uniqueEmail('burst');
    await page.getByLabel('Invitee email', { exact: true }).fill(email);
    await spend();
    await page.getByRole('button', { name: 'Send magic link', exact: true }).click();
    await expect(refused.or(page.locator('.issued', { hasText: email }))).toBeVisible();
  }
  await expectAccessible(page, '/dashboard, issuing refused for going too fast');
});

/** Presses Tab until `target` has the focus (never setting it by script); fails after `most`. */
async function tabTo(page: Page, target: Locator, most = 60): Promise<void> {
  for (let i = 0; i < most; i += 1) {
    if (await target.evaluate((element) => element === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  await expect(target, `reached by Tab within ${most} presses`).toBeFocused();
}

test('the dashboard works from the keyboard alone', async ({ page }) => {
  const coworker = uniqueEmail('cw-keyboard');
  addCoworker(coworker, 'Katherine Johnson');
  await signInCoworker(page, coworker);
  const invitee = uniqueEmail('mary');
  const other = uniqueEmail('dorothy');

  // Issue two links, Tab by Tab from the top of the page.
  for (const email of [invitee, other]) {
    await gotoReady(page, '/dashboard');
    await tabTo(page, page.getByLabel('Invitee email', { exact: true }));
    await page.keyboard.type(email);
    await tabTo(page, page.getByRole('button', { name: 'Send magic link', exact: true }));
    // Focus is visible: the focused element has an outline.
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await expect(page.locator('.issued', { hasText: email }).getByRole('button', { name: 'Copy link' })).toBeVisible();
    await waitForMail(email);
  }

  // Filter by searching, then Resend and Revoke from the keyboard.
  await gotoReady(page, '/dashboard');
  await tabTo(page, page.getByLabel('Search by email', { exact: true }));
  await page.keyboard.type(invitee);
  await page.keyboard.press('Enter');
  const rows = linkRow(page, invitee);
  await expect(rows).toHaveCount(1);
  await expect(linkRow(page, other)).toHaveCount(0);
  await tabTo(page, rows.getByRole('button', { name: 'Resend', exact: true }));
  await page.keyboard.press('Enter');
  await expect(page.getByText(`Magic link sent to ${invitee}`).last()).toBeVisible();
  await expect(rows).toHaveCount(2);
  const pendingRow = rows.filter({ has: page.getByRole('button', { name: 'Revoke', exact: true }) });
  await expect(pendingRow).toHaveCount(1);
  await tabTo(page, pendingRow.getByRole('button', { name: 'Revoke', exact: true }));
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await tabTo(page, dialog.getByRole('button', { name: 'Revoke link', exact: true }), 4);
  await page.keyboard.press('Enter');
  await expect(dialog).toHaveCount(0);
  await expect(rows.getByRole('button', { name: 'Revoke', exact: true })).toHaveCount(0);

  // Filter by state with the keyboard: the select takes arrow keys, and the list then
  // holds that state's links only. Neither of this invitee's links is pending now (one
  // was resent, the other revoked), so Pending shows none of them; the other invitee's
  // link, still pending, it shows.
  const show = page.getByLabel('Show', { exact: true });
  await tabTo(page, show);
  await page.keyboard.press('ArrowDown');
  await expect(show).toHaveValue('pending');
  await expect(rows).toHaveCount(0);
  await expect(page.getByText('No links match this filter.')).toBeVisible();
  const search = page.getByLabel('Search by email', { exact: true });
  await tabTo(page, search);
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type(other);
  await page.keyboard.press('Enter');
  await expect(show).toHaveValue('pending');
  const others = linkRow(page, other);
  await expect(others).toHaveCount(1);
  await expect(await statusCell(page, others)).toContainText('Pending');

  // And sign out.
  await tabTo(page, page.getByRole('button', { name: 'Sign out', exact: true }));
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/login(\?.*)?$/);
});

test('pages fit a phone screen without sideways scrolling', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  const coworker = who.hedy;
  addCoworker(coworker, 'Hedy Lamarr', { admin: true });
  await signInCoworker(page, coworker);
  await issueLink(page, { email: who.claude, name: 'Claude Shannon' });
  // Neither the page nor a table inside it may scroll sideways: on a phone the tables
  // lay out one block per row, with each row's buttons in view.
  const overflow = () =>
    page.evaluate(() =>
      Math.max(
        document.documentElement.scrollWidth - window.innerWidth,
        ...[...document.querySelectorAll('.table-scroll')].map((e) => e.scrollWidth - e.clientWidth),
      ),
    );
  expect(await overflow(), '/dashboard').toBeLessThanOrEqual(0);
  await expectAccessible(page, '/dashboard at 390 px');
  const row = linkRow(page, who.claude);
  for (const name of ['Resend', 'Revoke']) {
    const box = await row.getByRole('button', { name, exact: true }).boundingBox();
    expect(box && box.x + box.width, `${name} within the screen's width`).toBeLessThanOrEqual(390);
  }
  // Revoke's confirmation fits the screen too, whole, with both of its buttons.
  await row.getByRole('button', { name: 'Revoke', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  for (const target of [dialog, dialog.getByRole('button', { name: 'Revoke link' }), dialog.getByRole('button', { name: 'Cancel' })]) {
    const box = await target.boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= 390, 'the dialog within the screen').toBe(true);
  }
  expect(await overflow(), '/dashboard, confirming a revoke').toBeLessThanOrEqual(0);
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await page.getByRole('link', { name: who.claude, exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard\/links\/\d+$/);
  await waitForHydration(page);
  expect(await overflow(), '/dashboard/links/ID').toBeLessThanOrEqual(0);
  await expectAccessible(page, '/dashboard/links/ID at 390 px');
  await gotoReady(page, '/dashboard/coworkers');
  expect(await overflow(), '/dashboard/coworkers').toBeLessThanOrEqual(0);
  await gotoReady(page, '/dashboard/applications');
  expect(await overflow(), '/dashboard/applications').toBeLessThanOrEqual(0);
});
