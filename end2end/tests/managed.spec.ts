// Links as managed objects, through the UI: per-link options, the link's page with its
// timeline and sessions, Resend, self-service renewal, and coworker management.
import {
  allMails,
  answerConfirmation,
  expect,
  expireLinksTo,
  issueLink,
  extractLink,
  gotoReady,
  linkRow,
  signInCoworker,
  signInNewCoworker,
  statusCell,
  test,
  waitForHydration,
  waitForMail,
} from './helpers';

test('a link with options: its page shows the timeline, and ending its session signs the invitee out', async ({
  page,
  newContext,
}) => {
  test.slow();
  const { tag } = await signInNewCoworker(page, 'Dana');
  const invitee = `guest-${tag}@example.test`;

  // Options live under "More options".
  await issueLink(page, { email: invitee, destination: '/welcome?tab=start', sessionLasts: '8 hours' });
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
  // Opened and Signed in, each with the invitee's browser.
  const inviteeAgent = await invitePage.evaluate(() => navigator.userAgent);
  for (const what of ['Opened', 'Signed in']) {
    const entry = timeline.getByRole('listitem').filter({ hasText: what });
    await expect(entry).toContainText('from 127.0.0.1');
    await expect(entry).toContainText(inviteeAgent);
  }
  const sessions = page.getByRole('table');
  await expect(sessions.getByRole('row')).toHaveCount(2); // header + one session
  await answerConfirmation(
    page,
    sessions.getByRole('button', { name: 'End session', exact: true }),
    `End this session of ${invitee}?`,
    'End the session',
  );
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
  const { tag, email: coworker } = await signInNewCoworker(page, 'Erin');
  const invitee = `guest-${tag}@example.test`;
  await issueLink(page, { email: invitee });
  const link = extractLink(await waitForMail(invitee));

  // Someone (a forwarded mail, another device) used the link first.
  const first = await (await newContext()).newPage();
  await gotoReady(first, link);
  await first.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(first).toHaveURL(/\/welcome$/);

  const second = await (await newContext()).newPage();
  await gotoReady(second, link);
  await expect(second.getByText('This link has already been used').first()).toBeVisible();
  // The page offers the new link itself, so it does not also send the invitee elsewhere.
  await expect(second.getByText('You can have a new one sent to you.')).toBeVisible();
  await expect(second.getByText('Ask the person who sent it')).toHaveCount(0);
  // Counted per address this test owns: other tests' mail may still be arriving.
  const ours = (mails: Awaited<ReturnType<typeof allMails>>) =>
    mails.filter((mail) => mail.to.some((to) => [invitee, coworker].includes(to.address.toLowerCase())));
  const mailsBefore = ours(await allMails()).length;
  await second.getByRole('button', { name: 'Send me a new link', exact: true }).click();
  await expect(second.getByRole('status')).toContainText('A new link is on its way to g…@example.test');

  // The coworker is told after the new link went out, so once the notice is in, both are.
  const notice = await waitForMail(coworker, 'asked for a new link');
  expect(notice.text).not.toMatch(/\/link#/);
  const all = ours(await allMails());
  expect(all.length, 'the new link and the notice, and nothing else').toBe(mailsBefore + 2);
  const newLinks = all
    .filter((mail) => mail.to[0].address === invitee)
    .map(extractLink)
    .filter((candidate) => candidate !== link);
  expect(newLinks, 'one new link, to the invitation address').toHaveLength(1);
  const newLink = newLinks[0];

  // A fresh document: a fragment-only change would not reload /link.
  const fresh = await (await newContext()).newPage();
  await gotoReady(fresh, newLink);
  await fresh.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(fresh).toHaveURL(/\/welcome$/);

  // Asking again at once is refused with how long to wait.
  const third = await (await newContext()).newPage();
  await gotoReady(third, link);
  await third.getByRole('button', { name: 'Send me a new link', exact: true }).click();
  // About ten minutes, said in minutes (seconds only under a minute and a half).
  await expect(third.getByRole('heading', { level: 1 })).toContainText(/wait (9|10) minutes/i);
});

test('a coworker resends a pending link from the table; the old link stops working', async ({
  page,
  newContext,
}) => {
  const { tag } = await signInNewCoworker(page, 'Finn');
  const invitee = `guest-${tag}@example.test`;
  await issueLink(page, { email: invitee });
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
  const { tag } = await signInNewCoworker(page, 'Gale', { admin: true });
  const colleague = `colleague-${tag}@example.test`;
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

test('an invitee whose link expired asks for a new one and signs in with it', async ({ page, newContext }) => {
  test.slow();
  const { tag, email: coworker } = await signInNewCoworker(page, 'Iris');
  const invitee = `late-${tag}@example.test`;
  await issueLink(page, { email: invitee, expiresIn: '15 minutes' });
  const link = extractLink(await waitForMail(invitee));
  expireLinksTo(invitee);

  const late = await (await newContext()).newPage();
  await gotoReady(late, link);
  await expect(late.getByText('This link has expired').first()).toBeVisible();
  await late.getByRole('button', { name: 'Send me a new link', exact: true }).click();
  await expect(late.getByRole('status')).toContainText('A new link is on its way');

  await waitForMail(coworker, 'asked for a new link');
  const mails = (await allMails()).filter((mail) => mail.to[0].address === invitee);
  expect(mails).toHaveLength(2);
  // Both mails may carry the same timestamp: tell them apart by their links.
  const links = mails.map(extractLink);
  expect(links).toContain(link);
  const newLink = links.find((candidate) => candidate !== link)!;
  expect(newLink).toBeDefined();
  const fresh = await (await newContext()).newPage();
  await gotoReady(fresh, newLink);
  await fresh.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(fresh).toHaveURL(/\/welcome$/);
  await expect(fresh.getByText(`Signed in as ${invitee}`).first()).toBeVisible();
});

test('the links table filters by status and searches by address on the server', async ({ page }) => {
  const { tag } = await signInNewCoworker(page, 'Jo');
  const kept = `kept-${tag}@example.test`;
  const dropped = `dropped-${tag}@example.test`;
  await issueLink(page, { email: kept });
  await issueLink(page, { email: dropped });
  await answerConfirmation(
    page,
    linkRow(page, dropped).getByRole('button', { name: 'Revoke', exact: true }),
    `Revoke the link for ${dropped}?`,
    'Revoke link',
  );
  await expect(await statusCell(page, linkRow(page, dropped))).toContainText('Revoked');

  // Each state's option carries its count.
  const show = page.getByLabel('Show', { exact: true });
  await expect(show.getByRole('option', { name: /^Revoked \(\d+\)$/ })).toHaveCount(1);
  await show.selectOption('revoked');
  await expect(linkRow(page, dropped)).toHaveCount(1);
  await expect(linkRow(page, kept)).toHaveCount(0);
  await show.selectOption('pending');
  await expect(linkRow(page, kept)).toHaveCount(1);
  await expect(linkRow(page, dropped)).toHaveCount(0);

  await show.selectOption('');
  const search = page.getByLabel('Search by email', { exact: true });
  await search.fill(`dropped-${tag}`);
  await search.press('Enter');
  await expect(linkRow(page, dropped)).toHaveCount(1);
  await expect(page.getByRole('table').getByRole('row')).toHaveCount(2); // header + one
  await search.fill(`nobody-${tag}`);
  await search.press('Enter');
  await expect(page.getByText('No links match this filter.')).toBeVisible();
});

test('the links table shows when each link was used, expired or revoked, and by whom', async ({
  page,
  newContext,
}) => {
  test.slow();
  const { tag } = await signInNewCoworker(page, 'Lee');
  const pending = `pending-${tag}@example.test`;
  const used = `used-${tag}@example.test`;
  const revoked = `revoked-${tag}@example.test`;
  const expired = `expired-${tag}@example.test`;
  for (const email of [pending, used, revoked, expired]) await issueLink(page, { email });
  const usedLink = extractLink(await waitForMail(used));
  await waitForMail(expired);

  const invitee = await (await newContext()).newPage();
  await gotoReady(invitee, usedLink);
  await invitee.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(invitee).toHaveURL(/\/welcome$/);
  expireLinksTo(expired);

  // Another coworker revokes one of Lee's links: the table names the one who revoked it.
  const other = await (await newContext()).newPage();
  const { tag: otherTag } = await signInNewCoworker(other, 'Max');
  await answerConfirmation(
    other,
    linkRow(other, revoked).getByRole('button', { name: 'Revoke', exact: true }),
    `Revoke the link for ${revoked}?`,
    'Revoke link',
  );
  await expect(await statusCell(other, linkRow(other, revoked))).toContainText('Revoked');

  await page.reload();
  await waitForHydration(page);
  await expect(linkRow(page, pending)).toContainText(/Expires in (24|23) hours/);
  const usedRow = linkRow(page, used);
  await expect(usedRow).toContainText(/Used (just now|\d+ minutes? ago)/);
  const revokedRow = linkRow(page, revoked);
  await expect(revokedRow).toContainText(new RegExp(`Revoked (just now|\\d+ minutes? ago) by Max ${otherTag}`));
  await expect(linkRow(page, expired)).toContainText(/Expired (\d+ (minutes?|hours?|days?) ago|just now)/);
  for (const row of [usedRow, revokedRow, linkRow(page, expired)]) {
    await expect(row).not.toContainText('Expires');
  }
  // The column is named for all of that, not for the expiry alone.
  await expect(page.getByRole('columnheader', { name: 'Expires', exact: true })).toHaveCount(0);

  // The link's own page says the same in its summary.
  await revokedRow.getByRole('link', { name: revoked, exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard\/links\/\d+$/);
  await waitForHydration(page);
  const summary = page.getByRole('region', { name: 'Summary' });
  await expect(summary).toContainText(new RegExp(`Revoked\\s*(just now|\\d+ minutes? ago) by Max ${otherTag}`));
  await expect(summary).not.toContainText('Expires');
});
