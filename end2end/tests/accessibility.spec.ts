// Every page, in the states people see it in, checked with axe-core: a serious or
// critical violation fails the suite. The same walk takes the README's screenshots
// (into SCREENSHOT_DIR, by default target/e2e/screenshots; `make screenshots` writes
// docs/screenshots).
import AxeBuilder from '@axe-core/playwright';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { E2E_DIR, REPO_ROOT } from '../e2e-env';
import {
  addCoworker,
  expect,
  expireLinksTo,
  extractLink,
  gotoReady,
  issueLink,
  linkRow,
  signInCoworker,
  test,
  waitForHydration,
  waitForMail,
} from './helpers';

const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR
  ? path.resolve(REPO_ROOT, process.env.SCREENSHOT_DIR)
  : path.join(E2E_DIR, 'screenshots');

async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const blocking = results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(blocking, `${what}: serious or critical accessibility violations`).toEqual([]);
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

test.use({ viewport: { width: 1280, height: 800 } });

test('every page passes axe, and the README screenshots are taken', async ({ page, newContext }) => {
  test.slow();
  // Fixed addresses: the end-to-end database is new for every run.
  const coworker = 'ada@acme.example';
  addCoworker(coworker, 'Ada Lovelace', { admin: true });

  await gotoReady(page, '/login');
  await expectAccessible(page, '/login');

  await signInCoworker(page, coworker);
  await expectAccessible(page, '/dashboard, empty');
  await issueLink(page, {
    email: 'grace@partner.example',
    name: 'Grace Hopper',
    message: 'Here is the access to the design review we talked about.',
  });
  await issueLink(page, { email: 'alan@partner.example', name: 'Alan Turing', expiresIn: '7 days' });
  const invitation = await waitForMail('grace@partner.example');
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
  const alanLink = extractLink(await waitForMail('alan@partner.example'));
  await gotoReady(page, '/dashboard');
  const alanRow = page.getByRole('row').filter({ hasText: 'alan@partner.example' });
  // Revoke asks first, in a modal dialog.
  await alanRow.getByRole('button', { name: 'Revoke', exact: true }).click();
  const confirmRevoke = page.getByRole('dialog', { name: 'Revoke the link for alan@partner.example?' });
  await expect(confirmRevoke).toBeVisible();
  await expectAccessible(page, '/dashboard, confirming a revoke');
  await confirmRevoke.getByRole('button', { name: 'Revoke link', exact: true }).click();
  await expect(alanRow.getByRole('button', { name: 'Revoke', exact: true })).toHaveCount(0);
  const states = await (await newContext()).newPage();
  await gotoReady(states, alanLink);
  await expect(states.getByText('This link was revoked').first()).toBeVisible();
  await expectAccessible(states, '/link, a revoked link');
  await issueLink(page, { email: 'ken@partner.example', name: 'Ken Thompson' });
  const kenLink = extractLink(await waitForMail('ken@partner.example'));
  expireLinksTo('ken@partner.example');
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
  await page.getByRole('link', { name: 'grace@partner.example', exact: true }).last().click();
  await expect(page).toHaveURL(/\/dashboard\/links\/\d+$/);
  await waitForHydration(page);
  await expect(page.getByRole('button', { name: 'End session', exact: true })).toBeVisible();
  await expectAccessible(page, '/dashboard/links/ID');
  await screenshot(page, 'link-details');
  await page.getByRole('button', { name: 'End session', exact: true }).click();
  await expect(page.getByRole('dialog', { name: 'End this session of grace@partner.example?' })).toBeVisible();
  await expectAccessible(page, '/dashboard/links/ID, confirming End session');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await gotoReady(page, '/dashboard/coworkers');
  await expectAccessible(page, '/dashboard/coworkers');

  // Signed out and not found.
  // Signing out loads /welcome again, now signed out.
  await invitee.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(invitee.getByText(/not signed in/i).first()).toBeVisible();
  await waitForHydration(invitee);
  await expectAccessible(invitee, '/welcome, signed out');
  await invitee.goto('/no-such-page');
  await expectAccessible(invitee, 'the not-found page');
});

test('the dashboard works from the keyboard alone', async ({ page }) => {
  const coworker = 'katherine@acme.example';
  addCoworker(coworker, 'Katherine Johnson');
  await signInCoworker(page, coworker);
  await page.getByLabel('Invitee email', { exact: true }).focus();
  await page.keyboard.type('mary@partner.example');
  // Tab through Name, Message, Expires in and More options to the submit button.
  for (let i = 0; i < 5; i += 1) await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Send magic link', exact: true })).toBeFocused();
  // Focus is visible: the focused element has an outline.
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
  expect(outline).not.toBe('none');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('button', { name: 'Copy link', exact: true })).toBeVisible();
  await waitForMail('mary@partner.example');
});

test('pages fit a phone screen without sideways scrolling', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  const coworker = 'hedy@acme.example';
  addCoworker(coworker, 'Hedy Lamarr', { admin: true });
  await signInCoworker(page, coworker);
  await issueLink(page, { email: 'claude@partner.example', name: 'Claude Shannon' });
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
  const row = linkRow(page, 'claude@partner.example');
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
  await page.getByRole('link', { name: 'claude@partner.example', exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard\/links\/\d+$/);
  await waitForHydration(page);
  expect(await overflow(), '/dashboard/links/ID').toBeLessThanOrEqual(0);
  await gotoReady(page, '/dashboard/coworkers');
  expect(await overflow(), '/dashboard/coworkers').toBeLessThanOrEqual(0);
});
