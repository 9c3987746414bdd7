// The applications behind the gate, from the pages: an admin registers them, an
// invitation opens the ones chosen for it, a coworker narrows and widens that (widening
// asks first) and the timeline says so; sign-in and sign-out return to the application
// they were asked from.
//
// Applications are shared by the whole server, and an invitation with no destination
// lands on the first one it opens; so every application registered here sits on
// Latchkey's own origin (or nowhere reachable) and is removed again when the test ends.
import { execFileSync } from 'node:child_process';
import type { Locator, Page } from '@playwright/test';
import { BASE_URL, LATCHKEY_BIN, LATCHKEY_ENV, REPO_ROOT } from '../e2e-env';
import {
  answerConfirmation,
  expect,
  extractLink,
  gotoReady,
  issueLink,
  linkRow,
  redeemAsInvitee,
  searchLinks,
  signInNewCoworker,
  test,
  uniqueEmail,
  uniqueTag,
  waitForHydration,
  waitForAnotherMail,
  waitForMail,
} from './helpers';

/** Application names registered by the running test, removed after it. */
const registered: string[] = [];

test.afterEach(() => {
  for (const name of registered.splice(0)) {
    try {
      execFileSync(LATCHKEY_BIN, ['app', 'remove', name], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...LATCHKEY_ENV },
        stdio: 'pipe',
        timeout: 30_000,
      });
    } catch {
      // Already removed (from the page).
    }
  }
});

/** A short, unique suffix for names: applications' names are unique per server. */
function shortTag(): string {
  return uniqueTag().split('-')[1];
}

/** Registers an application on the Applications page and waits for its row. */
async function addApplication(page: Page, name: string, url: string): Promise<void> {
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Base URL', { exact: true }).fill(url);
  await page.getByRole('button', { name: 'Add application', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: `Added ${name}` })).toBeVisible();
  registered.push(name);
  await expect(applicationRow(page, name)).toBeVisible();
}

function applicationRow(page: Page, name: string): Locator {
  return page.getByRole('table').getByRole('row').filter({ has: page.getByRole('cell', { name, exact: true }) });
}

/** The cell of `row` under the column headed `column`. */
async function cellUnder(page: Page, row: Locator, column: string): Promise<Locator> {
  const table = page.getByRole('table');
  await expect(table.getByRole('columnheader', { name: column, exact: true })).toBeVisible();
  const headers = (await table.getByRole('columnheader').allInnerTexts()).map((text) => text.trim());
  return row.locator('xpath=./th|./td').nth(headers.indexOf(column));
}

test('an admin registers applications, and an invitation opens the ones chosen for it', async ({ page, newContext }) => {
  test.slow();
  const tag = shortTag();
  const wiki = `Wiki ${tag}`;
  const handbook = `Handbook ${tag}`;
  // Nothing answers there; the invitee never goes to the wiki in this test.
  const wikiUrl = `http://wiki-${tag}.example.test/`;
  // On Latchkey's own origin, so the invitee's landing (the first application the
  // invitation opens) is a page this suite can load.
  const handbookUrl = `${BASE_URL}/welcome`;

  await signInNewCoworker(page, 'Ada', { admin: true });
  await page.getByRole('link', { name: 'Applications', exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard\/applications$/);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'Applications', level: 1 })).toBeVisible();

  await addApplication(page, wiki, wikiUrl);
  await addApplication(page, handbook, handbookUrl);
  await expect(applicationRow(page, handbook)).toContainText(handbookUrl);

  // The same name again (in other letters) is refused under the name, as the server says.
  await page.getByLabel('Name', { exact: true }).fill(wiki.toUpperCase());
  await page.getByLabel('Base URL', { exact: true }).fill(`http://other-${tag}.example.test/`);
  await page.getByRole('button', { name: 'Add application', exact: true }).click();
  await expect(page.getByRole('alert')).toHaveText('An application with this name is already registered.');
  await expect(page.getByLabel('Name', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Name', { exact: true })).toHaveAccessibleDescription(
    'An application with this name is already registered.',
  );
  // And an address that is not a full one, under the address.
  await page.getByLabel('Name', { exact: true }).fill(`Other ${tag}`);
  await page.getByLabel('Base URL', { exact: true }).fill('wiki.example.test');
  await page.getByRole('button', { name: 'Add application', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('That is not a full address');
  await expect(page.getByLabel('Base URL', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Name', { exact: true })).not.toHaveAttribute('aria-invalid', 'true');
  await expect(applicationRow(page, `Other ${tag}`)).toHaveCount(0);

  // The issue form offers every application, the first registered one ticked, and the
  // server renders the form's field with that default before any script runs.
  await gotoReady(page, '/dashboard');
  const access = page.getByRole('group', { name: 'Access to', exact: true });
  const boxes = access.getByRole('checkbox');
  await expect(boxes.first()).toBeChecked();
  for (const box of (await boxes.all()).slice(1)) await expect(box).not.toBeChecked();
  const firstId = await boxes.first().getAttribute('value');
  const served = await (await page.request.get('/dashboard')).text();
  expect(served).toContain(`<input type="hidden" name="applications" value="${firstId}"`);

  // With nothing ticked there is nothing to send.
  await boxes.first().uncheck();
  await expect(access.getByText('Choose at least one application.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Send magic link', exact: true })).toBeDisabled();

  // Access to = the second one only.
  const invitee = uniqueEmail('grace');
  const inviteeName = `Grace ${tag}`;
  await access.getByRole('checkbox', { name: handbook, exact: true }).check();
  await expect(page.locator('input[name="applications"]')).toHaveValue(
    (await access.getByRole('checkbox', { name: handbook, exact: true }).getAttribute('value'))!,
  );
  await issueLink(page, { email: invitee, name: inviteeName });
  // The form starts over, with the default ticked again.
  await expect(boxes.first()).toBeChecked();
  await expect(access.getByRole('checkbox', { name: handbook, exact: true })).not.toBeChecked();

  // The links table says what it opens.
  await searchLinks(page, invitee);
  const row = linkRow(page, invitee);
  await expect(await cellUnder(page, row, 'Access')).toHaveText(handbook);

  // The link's page: what it opens, and the choice of it.
  await row.getByRole('link', { name: invitee, exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard\/links\/\d+$/);
  await waitForHydration(page);
  const section = page.getByRole('region', { name: 'Access', exact: true });
  await expect(section.getByRole('list', { name: 'Opens' })).toHaveText(new RegExp(`^${handbook}`));
  const choice = section.getByRole('group', { name: 'Applications it opens' });
  await expect(choice.getByRole('checkbox', { name: handbook, exact: true })).toBeChecked();
  await expect(choice.getByRole('checkbox', { name: wiki, exact: true })).not.toBeChecked();
  const save = section.getByRole('button', { name: 'Save access', exact: true });
  await expect(save).toBeDisabled();

  // Widening asks first, naming whom and what; Cancel changes nothing.
  await choice.getByRole('checkbox', { name: wiki, exact: true }).check();
  const question = `Widen access: ${inviteeName} will also reach ${wiki}`;
  await answerConfirmation(page, save, question, 'Cancel');
  const timeline = page.locator('ol.timeline');
  await expect(timeline.getByText('Access changed')).toHaveCount(0);
  await answerConfirmation(page, section.getByRole('button', { name: 'Save access', exact: true }), question, 'Widen access');
  await expect(timeline.locator('li', { hasText: 'Access changed' })).toContainText(`widened: added ${wiki}`);
  await expect(section.getByRole('list', { name: 'Opens' })).toContainText(wiki);

  // Narrowing saves at once.
  await choice.getByRole('checkbox', { name: wiki, exact: true }).uncheck();
  await section.getByRole('button', { name: 'Save access', exact: true }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(timeline.locator('li', { hasText: 'Access changed' }).first()).toContainText(`narrowed: removed ${wiki}`);
  await expect(section.getByRole('list', { name: 'Opens' })).not.toContainText(wiki);
  await expect(timeline.locator('li', { hasText: 'Access changed' })).toHaveCount(2);

  // The invitee lands on the application and sees what their session opens.
  const link = extractLink(await waitForMail(invitee));
  const theirs = await (await newContext()).newPage();
  await redeemAsInvitee(theirs, link, invitee);
  const yours = theirs.getByRole('list', { name: 'Your applications' });
  await expect(yours.getByRole('link', { name: handbook, exact: true })).toHaveAttribute('href', handbookUrl);
  await expect(yours.getByRole('link', { name: wiki })).toHaveCount(0);

  // Their first request to it through the gate goes on the timeline as "Reached".
  const gate = await theirs.request.get('/gate/auth-request', {
    headers: { 'X-Original-URL': `${handbookUrl}/page`, 'X-Original-Method': 'GET' },
  });
  expect(gate.status(), 'the gate lets the invitee into the handbook').toBe(200);
  // The gate writes it behind its answer, within a second.
  await expect(async () => {
    await page.reload();
    await waitForHydration(page);
    await expect(page.locator('ol.timeline').getByText(`Reached ${handbook}`, { exact: true })).toBeVisible({
      timeout: 1_000,
    });
  }).toPass({ timeout: 10_000 });

  // Removing an application asks first, and says what it takes away.
  await gotoReady(page, '/dashboard/applications');
  await answerConfirmation(
    page,
    applicationRow(page, wiki).getByRole('button', { name: 'Remove', exact: true }),
    `Remove ${wiki}?`,
    'Cancel',
  );
  await expect(applicationRow(page, wiki)).toHaveCount(1);
  await applicationRow(page, wiki).getByRole('button', { name: 'Remove', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: `Remove ${wiki}?` });
  await expect(dialog).toContainText(`Sessions lose access to ${wiki} at once`);
  await dialog.getByRole('button', { name: 'Remove application', exact: true }).click();
  await expect(applicationRow(page, wiki)).toHaveCount(0);
  await expect(applicationRow(page, handbook)).toHaveCount(1);
});

test('sign-in and sign-out go back to the application they were asked from', async ({ page }) => {
  const tag = shortTag();
  const console_ = `Console ${tag}`;
  const consoleUrl = `${BASE_URL}/dashboard`;
  execFileSync(LATCHKEY_BIN, ['app', 'add', console_, consoleUrl], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...LATCHKEY_ENV },
    stdio: 'pipe',
    timeout: 30_000,
  });
  registered.push(console_);

  // An address outside Latchkey and its applications is neither named nor sent.
  await gotoReady(page, `/login?rd=${encodeURIComponent('https://elsewhere.example/')}`);
  await expect(page.getByText('takes you back')).toHaveCount(0);
  await expect(page.locator('input[name="rd"]')).toHaveCount(0);

  // /login?rd= names the application, and the emailed link returns there.
  const { email } = await signInNewCoworker(page, 'Lin');
  const first = await waitForMail(email);
  await page.context().clearCookies();
  const rd = `${consoleUrl}?from=${tag}`;
  await gotoReady(page, `/login?rd=${encodeURIComponent(rd)}`);
  await expect(page.getByText(`After signing in, the link takes you back to ${console_}.`)).toBeVisible();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Send sign-in link', exact: true }).click();
  await expect(page.getByText(/check your inbox/i).first()).toBeVisible();
  // The mail after the first sign-in's.
  const link = extractLink(await waitForAnotherMail(email, [first]));
  await gotoReady(page, link);
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(page).toHaveURL(rd);

  // /sign-out asks, signs out with a POST, and goes to rd: here a Latchkey page that
  // names the application the session was for.
  const after = `${BASE_URL}/welcome?rd=${encodeURIComponent(`${consoleUrl}/x`)}`;
  await gotoReady(page, `/sign-out?rd=${encodeURIComponent(after)}`);
  await expect(page.getByRole('heading', { name: 'Sign out of Latchkey?', level: 1 })).toBeVisible();
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(after);
  await expect(page.getByText(`Your ${console_} session has ended.`, { exact: false })).toBeVisible();
  // Signed out indeed: the dashboard sends the browser to sign in.
  await page.goto('/dashboard');
  await expect(page).toHaveURL(/\/login$/);

  // Without a safe rd, sign-out ends on /login.
  await gotoReady(page, `/sign-out?rd=${encodeURIComponent('https://elsewhere.example/')}`);
  await expect(page.getByRole('heading', { name: 'You are signed out', level: 1 })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Continue', exact: true })).toHaveAttribute('href', '/login');
});
