// Links as managed objects, through the UI: per-link options, the link's page with its
// timeline and sessions, Resend, self-service renewal, and coworker management.
import {
  addCoworker,
  allMails,
  expect,
  extractLink,
  gotoReady,
  linkRow,
  signInCoworker,
  statusCell,
  test,
  uniqueTag,
  waitForHydration,
  waitForMail,
} from './helpers';

test('a link with options: its page shows the timeline, and ending its session signs the invitee out', async ({
  page,
  newContext,
}) => {
  test.slow();
  const tag = uniqueTag();
  const coworker = `cw-${tag}@example.test`;
  const invitee = `guest-${tag}@example.test`;
  addCoworker(coworker, `Dana ${tag}`);
  await signInCoworker(page, coworker);

  // Options live under "More options".
  await page.getByLabel('Invitee email', { exact: true }).fill(invitee);
  await page.getByText('More options', { exact: true }).click();
  await page.getByLabel('Destination after sign-in', { exact: true }).fill('/welcome?tab=start');
  await page.getByLabel('Session lasts', { exact: true }).selectOption({ label: '8 hours' });
  await page.getByRole('button', { name: 'Send magic link', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Copy link', exact: true })).toBeVisible();
  const link = extractLink(await waitForMail(invitee));

  // The row leads to the link's page: options and the first events.
  await linkRow(page, invitee).getByRole('link', { name: invitee, exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard\/links\/\d+$/);
  await waitForHydration(page);
  const detailsUrl = page.url();
  await expect(page.getByRole('heading', { name: `Link for ${invitee}` })).toBeVisible();
  await expect(page.getByText('/welcome?tab=start', { exact: true })).toBeVisible();
  await expect(page.getByText('8 hours', { exact: true })).toBeVisible();
  const timeline = page.getByRole('list').filter({ hasText: 'Issued' });
  await expect(timeline.getByRole('listitem')).toHaveCount(2);
  await expect(timeline).toContainText('Mail sent');

  // The invitee opens the link (the page looks it up) and signs in; they land on the
  // destination the coworker chose.
  const invitePage = await (await newContext()).newPage();
  await gotoReady(invitePage, link);
  await invitePage.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(invitePage).toHaveURL(/\/welcome\?tab=start$/);
  await expect(invitePage.getByText(`Signed in as ${invitee}`).first()).toBeVisible();

  await gotoReady(page, detailsUrl);
  await expect(timeline.getByRole('listitem')).toHaveCount(4);
  await expect(timeline).toContainText('Opened');
  await expect(timeline).toContainText('Signed in');
  await expect(timeline).toContainText('from 127.0.0.1');
  const sessions = page.getByRole('table');
  await expect(sessions.getByRole('row')).toHaveCount(2); // header + one session
  await sessions.getByRole('button', { name: 'End session', exact: true }).click();
  await expect(sessions.getByRole('button', { name: 'End session', exact: true })).toHaveCount(0);
  await expect(timeline).toContainText('ended from this page');

  await invitePage.reload();
  await expect(invitePage.getByText(/not signed in/i).first()).toBeVisible();
});

test('an invitee whose link was used asks for a new one, and only their address gets it', async ({
  page,
  newContext,
}) => {
  test.slow();
  const tag = uniqueTag();
  const coworker = `cw-${tag}@example.test`;
  const invitee = `guest-${tag}@example.test`;
  addCoworker(coworker, `Erin ${tag}`);
  await signInCoworker(page, coworker);
  await page.getByLabel('Invitee email', { exact: true }).fill(invitee);
  await page.getByRole('button', { name: 'Send magic link', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Copy link', exact: true })).toBeVisible();
  const link = extractLink(await waitForMail(invitee));

  // Someone (a forwarded mail, another device) used the link first.
  const first = await (await newContext()).newPage();
  await gotoReady(first, link);
  await first.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(first).toHaveURL(/\/welcome$/);

  const second = await (await newContext()).newPage();
  await gotoReady(second, link);
  await expect(second.getByText('This link has already been used').first()).toBeVisible();
  const mailsBefore = (await allMails()).length;
  await second.getByRole('button', { name: 'Send me a new link', exact: true }).click();
  await expect(second.getByRole('status')).toContainText('A new link is on its way to g…@example.test');

  // The new link went to the invitation's address, and the coworker was told.
  const renewed = await waitForMail(invitee, 'invited you');
  const newLink = extractLink(
    (await allMails()).find((mail) => mail.to[0].address === invitee && extractLink(mail) !== link) ?? renewed,
  );
  expect(newLink).not.toBe(link);
  const notice = await waitForMail(coworker, 'asked for a new link');
  expect(notice.text).not.toMatch(/\/link#/);
  expect((await allMails()).length).toBe(mailsBefore + 2);

  // A fresh document: a fragment-only change would not reload /link.
  const fresh = await (await newContext()).newPage();
  await gotoReady(fresh, newLink);
  await fresh.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(fresh).toHaveURL(/\/welcome$/);

  // Asking again at once is refused with how long to wait.
  const third = await (await newContext()).newPage();
  await gotoReady(third, link);
  await third.getByRole('button', { name: 'Send me a new link', exact: true }).click();
  await expect(third.getByRole('alert')).toContainText(/wait \d+ seconds/i);
});

test('a coworker resends a pending link from the table; the old link stops working', async ({
  page,
  newContext,
}) => {
  const tag = uniqueTag();
  const coworker = `cw-${tag}@example.test`;
  const invitee = `guest-${tag}@example.test`;
  addCoworker(coworker, `Finn ${tag}`);
  await signInCoworker(page, coworker);
  await page.getByLabel('Invitee email', { exact: true }).fill(invitee);
  await page.getByRole('button', { name: 'Send magic link', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Copy link', exact: true })).toBeVisible();
  const oldLink = extractLink(await waitForMail(invitee));

  const row = linkRow(page, invitee).first();
  await row.getByRole('button', { name: 'Resend', exact: true }).click();
  await expect(page.getByText(`Magic link sent to ${invitee}`).last()).toBeVisible();
  // Two rows now: the new pending link and the old one, revoked.
  const rows = linkRow(page, invitee);
  await expect(rows).toHaveCount(2);
  await expect(await statusCell(page, rows.nth(0))).toContainText('Pending');
  await expect(await statusCell(page, rows.nth(1))).toContainText('Revoked');

  const other = await (await newContext()).newPage();
  await gotoReady(other, oldLink);
  await expect(other.getByText('This link was revoked').first()).toBeVisible();
});

test('an admin adds a coworker and deactivating them signs them out', async ({ page, newContext }) => {
  test.slow();
  const tag = uniqueTag();
  const admin = `admin-${tag}@example.test`;
  const colleague = `colleague-${tag}@example.test`;
  addCoworker(admin, `Gale ${tag}`, { admin: true });
  await signInCoworker(page, admin);
  await page.getByRole('link', { name: 'Manage coworkers', exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard\/coworkers$/);
  await waitForHydration(page);
  await page.getByLabel('Coworker email', { exact: true }).fill(colleague);
  await page.getByLabel('Full name', { exact: true }).fill(`Hal ${tag}`);
  await page.getByRole('button', { name: 'Add coworker', exact: true }).click();
  await expect(page.getByRole('status')).toContainText('Added');
  const row = page.getByRole('row').filter({ hasText: colleague });
  await expect(row).toContainText('Active');

  const theirs = await (await newContext()).newPage();
  await signInCoworker(theirs, colleague);
  // Not an admin: no way to the coworkers page.
  await expect(theirs.getByRole('link', { name: 'Manage coworkers' })).toHaveCount(0);

  await row.getByRole('button', { name: 'Deactivate', exact: true }).click();
  await expect(row).toContainText('Deactivated');
  await theirs.goto('/dashboard');
  await expect(theirs).toHaveURL(/\/login(\?.*)?$/);
});
