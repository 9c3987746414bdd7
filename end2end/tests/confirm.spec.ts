// Revoke and End session cannot be undone, so each asks first, in a modal dialog that
// names the invitee: confirming acts; Cancel and Escape change nothing and give focus
// back to the button that opened the dialog.
import type { Locator, Page } from '@playwright/test';
import {
  expect,
  extractLink,
  gotoReady,
  issueLink,
  linkRow,
  searchLinks,
  redeemAsInvitee,
  signInNewCoworker,
  statusCell,
  test,
  waitForHydration,
  waitForMail,
} from './helpers';

/** Counts the calls the page makes to the server function at `endpoint`. */
function countCalls(page: Page, endpoint: string): () => number {
  let calls = 0;
  page.on('request', (request) => {
    if (request.url().endsWith(endpoint)) calls += 1;
  });
  return () => calls;
}

/**
 * Open the dialog with `opener` and check it: a modal dialog named by `question` (its
 * heading), focus inside it on Cancel, and Tab never leaving it.
 */
async function openConfirmation(page: Page, opener: Locator, question: string): Promise<Locator> {
  await opener.click();
  const dialog = page.getByRole('dialog', { name: question, exact: true });
  await expect(dialog).toBeVisible();
  await expect(dialog).toHaveAttribute('aria-modal', 'true');
  await expect(dialog.getByRole('heading', { name: question, exact: true })).toBeVisible();
  // The harmless choice has focus first.
  await expect(dialog.getByRole('button', { name: 'Cancel', exact: true })).toBeFocused();
  // Tab and Shift+Tab stay in the dialog: the page behind it is inert.
  for (const key of ['Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
    await page.keyboard.press(key);
    expect(
      await page.evaluate(() => document.activeElement?.closest('dialog[open]') != null),
      `focus stays in the dialog after ${key}`,
    ).toBe(true);
  }
  await dialog.getByRole('button', { name: 'Cancel', exact: true }).focus();
  return dialog;
}

/** Close the open dialog with Cancel, then with Escape; each time focus is back on `opener`. */
async function cancelBothWays(page: Page, opener: Locator, question: string): Promise<void> {
  const byButton = await openConfirmation(page, opener, question);
  await byButton.getByRole('button', { name: 'Cancel', exact: true }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(opener).toBeFocused();

  await openConfirmation(page, opener, question);
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(opener).toBeFocused();
}

test('revoking from the links table asks first; Cancel and Escape leave the link pending', async ({ page }) => {
  const { tag } = await signInNewCoworker(page, 'Nia');
  const invitee = `guest-${tag}@example.test`;
  await issueLink(page, { email: invitee });
  const revokeCalls = countCalls(page, '/api/revoke_link');
  const row = linkRow(page, invitee);
  const revoke = row.getByRole('button', { name: 'Revoke', exact: true });
  const question = `Revoke the link for ${invitee}?`;

  await cancelBothWays(page, revoke, question);
  expect(revokeCalls(), 'nothing was sent').toBe(0);
  await expect(await statusCell(page, row)).toContainText('Pending');
  await page.reload();
  await waitForHydration(page);
  await expect(await statusCell(page, row)).toContainText('Pending');

  const dialog = await openConfirmation(page, revoke, question);
  await expect(dialog).toContainText('cannot be undone');
  await dialog.getByRole('button', { name: 'Revoke link', exact: true }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(await statusCell(page, row)).toContainText('Revoked');
  await expect(row.getByRole('button', { name: 'Revoke', exact: true })).toHaveCount(0);
  expect(revokeCalls()).toBe(1);
});

test("a link's page asks before ending a session or revoking; Cancel and Escape change nothing", async ({
  page,
  newContext,
}) => {
  test.slow();
  const { tag } = await signInNewCoworker(page, 'Oli');
  const invitee = `guest-${tag}@example.test`;
  await issueLink(page, { email: invitee });
  const link = extractLink(await waitForMail(invitee));
  const inviteePage = await (await newContext()).newPage();
  await redeemAsInvitee(inviteePage, link, invitee);

  const calls = {
    endSession: countCalls(page, '/api/end_session'),
    revoke: countCalls(page, '/api/revoke_link'),
  };
  await gotoReady(page, '/dashboard');
  await searchLinks(page, invitee);
  await linkRow(page, invitee).getByRole('link', { name: invitee, exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard\/links\/\d+$/);
  await waitForHydration(page);
  const endSession = page.getByRole('button', { name: 'End session', exact: true });
  const revoke = page.getByRole('button', { name: 'Revoke', exact: true });
  const summary = page.getByRole('region', { name: 'Summary' });

  // Changing one's mind changes nothing: the session and the link stay.
  await cancelBothWays(page, endSession, `End this session of ${invitee}?`);
  await cancelBothWays(page, revoke, `Revoke the link for ${invitee}?`);
  expect(calls.endSession() + calls.revoke(), 'nothing was sent').toBe(0);
  await page.reload();
  await waitForHydration(page);
  await expect(summary).toContainText('Redeemed');
  await expect(endSession).toBeVisible();
  await inviteePage.reload();
  await expect(inviteePage.getByText(`Signed in as ${invitee}`).first()).toBeVisible();

  // Confirming ends the session...
  const ending = await openConfirmation(page, endSession, `End this session of ${invitee}?`);
  await ending.getByRole('button', { name: 'End the session', exact: true }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(endSession).toHaveCount(0);
  expect(calls.endSession()).toBe(1);
  await inviteePage.reload();
  await expect(inviteePage.getByText(/not signed in/i).first()).toBeVisible();

  // ...and revokes the link.
  const revoking = await openConfirmation(page, revoke, `Revoke the link for ${invitee}?`);
  await revoking.getByRole('button', { name: 'Revoke link', exact: true }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(summary).toContainText('Revoked');
  await expect(revoke).toHaveCount(0);
  expect(calls.revoke()).toBe(1);
});
