// A link's timeline: repeated looks are one entry with a count, and a long trail is paged,
// newest first, with "Show older".
import { runSql } from '../database';
import {
  expect,
  extractLink,
  gotoReady,
  issueLink,
  signInNewCoworker,
  test,
  waitForHydration,
  waitForMail,
} from './helpers';

/** Writes `count` delivery events onto the trail of the invitation to `email`; its id. */
function padTrail(email: string, count: number): number {
  runSql(
    'WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < CAST($2 AS INTEGER)) '
      + "INSERT INTO link_events (link_id, at, kind) SELECT l.id, 1000 + n.i, 'mail_sent' "
      + 'FROM magic_links l, n WHERE l.recipient_email = $1',
    [email, String(count)],
  );
  return Number(runSql('SELECT id FROM magic_links WHERE recipient_email = $1', [email])[0][0]);
}

test('looks are counted on one entry and a long timeline shows older entries on request', async ({
  page,
  newContext,
}) => {
  test.slow();
  const { tag } = await signInNewCoworker(page, 'Tess');
  const invitee = `trail-${tag}@example.test`;
  await issueLink(page, { email: invitee });
  const link = extractLink(await waitForMail(invitee));

  // The invitee's browser opens the link three times (a scanner, a preview, a person),
  // each in a tab of its own.
  const theirs = await newContext();
  for (let i = 0; i < 3; i++) {
    const tab = await theirs.newPage();
    await gotoReady(tab, link);
    await expect(tab.getByRole('button', { name: 'Continue', exact: true })).toBeVisible();
    await tab.close();
  }

  const id = padTrail(invitee, 60);
  await gotoReady(page, `/dashboard/links/${id}`);
  await waitForHydration(page);
  const timeline = page.getByRole('list').filter({ has: page.locator('li.event') });
  const entries = timeline.getByRole('listitem');
  // The newest 50: the 60 written here are newer than the looks.
  await expect(entries).toHaveCount(50);
  const opened = entries.filter({ hasText: 'Opened' });
  await expect(opened).toHaveCount(0);

  await page.getByRole('button', { name: 'Show older', exact: true }).click();
  // Issued, mail sent, opened and the 60 written here: 63 in all, and nothing more to show.
  await expect(entries).toHaveCount(63);
  await expect(page.getByRole('button', { name: 'Show older' })).toHaveCount(0);
  // Three looks from one browser: one entry that counts them.
  await expect(opened).toHaveCount(1);
  await expect(opened).toContainText('3 times');
});
