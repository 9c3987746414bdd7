// The magic-link journeys of SPEC.md, driven through the UI by accessible names.
// Every test makes its own coworker and invitees, so the tests are independent.
import {
  addCoworker,
  allMails,
  answerConfirmation,
  expect,
  extractLink,
  gotoReady,
  issueLink,
  linkRow,
  pageShows,
  redeemAsInvitee,
  sessionCookie,
  signInCoworker,
  signInNewCoworker,
  statusCell,
  test,
  tokenOf,
  uniqueEmail,
  uniqueTag,
  waitForHydration,
  waitForMail,
} from './helpers';

test('coworker signs in through the emailed link', async ({ page }) => {
  const email = uniqueEmail('cw');
  addCoworker(email, 'Carol Coworker');

  const link = await signInCoworker(page, email);

  // After redeeming, the token is gone from the address bar...
  expect(page.url()).not.toContain('#');
  expect(page.url()).not.toContain(tokenOf(link));
  expect(await page.evaluate(() => location.hash)).toBe('');
  // ...and from session history (history.replaceState, not a new entry).
  await page.goBack();
  expect(page.url()).not.toContain(tokenOf(link));
});

test('coworker issues an invitation and the invitee signs in', async ({ page, newContext }) => {
  test.slow(); // four browser contexts and a dozen hydrated page loads
  const tag = uniqueTag();
  const coworker = `cw-${tag}@example.test`;
  const coworkerName = `Bob ${tag}`;
  const invitee = `invitee-${tag}@example.test`;
  addCoworker(coworker, coworkerName);

  // --- Context A: the coworker issues the link. ---
  await signInCoworker(page, coworker);

  const expiresIn = page.getByLabel('Expires in', { exact: true });
  await expect(expiresIn.getByRole('option')).toHaveText(['15 minutes', '1 hour', '24 hours', '7 days']);
  await expect(expiresIn.getByRole('option', { name: '24 hours', exact: true, selected: true })).toHaveCount(1);

  await issueLink(page, { email: invitee, name: 'Alice Example', message: 'Welcome aboard', expiresIn: '1 hour' });

  const mail = await waitForMail(invitee);
  const link = extractLink(mail);
  expect(mail.text, 'the mail names the inviter').toContain(coworkerName);
  // Copy link, on loopback (a secure context), puts the very link on the clipboard.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const issued = page.locator('.issued', { hasText: invitee });
  await issued.getByRole('button', { name: 'Copy link', exact: true }).click();
  await expect(issued.getByRole('status').filter({ hasText: 'Copied' })).toHaveText('Copied.');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
  expect(mail.text, 'the mail names the invitee').toMatch(new RegExp(`Alice Example|${invitee.replace(/[.+]/g, '\\$&')}`));
  expect(mail.text, 'the mail says when the link expires').toMatch(/expires/i);

  // The issuer sees the new link once, and the table lists it as pending.
  await expect.poll(() => pageShows(page, link), { message: 'the new link is shown to its issuer' }).toBe(true);
  const row = linkRow(page, invitee);
  await expect(await statusCell(page, row)).toContainText('Pending');

  // --- Context B: the invitee, in their own browser. ---
  const contextB = await newContext();
  const pageB = await contextB.newPage();
  await gotoReady(pageB, link);
  await expect(pageB.getByText(invitee).first()).toBeVisible();
  await expect(pageB.getByText(coworkerName).first()).toBeVisible();
  await pageB.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(pageB).toHaveURL(/\/welcome$/);
  expect(await pageB.evaluate(() => location.hash)).toBe('');
  await expect(pageB.getByText(`Signed in as ${invitee}`).first()).toBeVisible();
  await expect(pageB.getByText(coworkerName).first()).toBeVisible();

  const cookie = await sessionCookie(contextB);
  expect(cookie, 'a latchkey_session cookie was set').toBeDefined();
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });

  // An invitee is not a coworker: no dashboard for them.
  await pageB.goto('/dashboard');
  await expect(pageB).toHaveURL(/\/login(\?.*)?$/);
  await gotoReady(pageB, '/welcome');
  await expect(pageB.getByText(`Signed in as ${invitee}`).first()).toBeVisible();

  // --- Context C: anyone else opening the same link later. ---
  const pageC = await (await newContext()).newPage();
  await gotoReady(pageC, link);
  await expect(pageC.getByText('This link has already been used').first()).toBeVisible();
  await expect(pageC.getByRole('button', { name: 'Continue', exact: true })).toHaveCount(0);

  // --- Back in A: the link is redeemed, shown never again, and revocable. ---
  await page.reload();
  await waitForHydration(page);
  await expect(await statusCell(page, row)).toContainText('Redeemed');
  expect(await page.content(), 'the link is not shown again').not.toContain(tokenOf(link));
  await answerConfirmation(
    page,
    row.getByRole('button', { name: 'Revoke', exact: true }),
    `Revoke the link for ${invitee}?`,
    'Revoke link',
  );
  await expect(await statusCell(page, row)).toContainText('Revoked');
  await expect(row.getByRole('button', { name: 'Revoke', exact: true })).toHaveCount(0);

  // --- B again: revoking ended the invitee's session. ---
  await pageB.reload();
  await expect(pageB.getByText(/not signed in/i).first()).toBeVisible();
  await expect(pageB.getByText(/Signed in as/)).toHaveCount(0);
  await pageB.goto('/dashboard');
  await expect(pageB).toHaveURL(/\/login(\?.*)?$/);

  // A revoked link says so, even though it was used before.
  const pageD = await (await newContext()).newPage();
  await gotoReady(pageD, link);
  await expect(pageD.getByText('This link was revoked').first()).toBeVisible();
  await expect(pageD.getByText('Ask the person who sent it for a new link.')).toBeVisible();
  await expect(pageD.getByRole('button', { name: 'Continue', exact: true })).toHaveCount(0);
});

test('the link page takes the token out of the address bar and history as soon as it has read it', async ({
  page,
  newContext,
}) => {
  test.slow();
  const { tag } = await signInNewCoworker(page, 'Lou');
  const invitee = `guest-${tag}@example.test`;
  await issueLink(page, { email: invitee });
  const link = extractLink(await waitForMail(invitee));
  const token = tokenOf(link);

  // The invitee's tab, which was on another page before the link was opened in it.
  const holder = await (await newContext()).newPage();
  await gotoReady(holder, '/login');
  const entriesBefore = await holder.evaluate(() => history.length);
  await gotoReady(holder, link);
  // The page has read the token (it shows whom the link is for)...
  await expect(holder.getByText(invitee).first()).toBeVisible();
  await expect(holder.getByRole('button', { name: 'Continue', exact: true })).toBeVisible();
  // ...and, before anyone presses Continue, the token is out of the URL, with no history
  // entry added for it (replaceState, not pushState).
  expect(await holder.evaluate(() => location.hash)).toBe('');
  expect(holder.url()).not.toContain(token);
  expect(holder.url()).toMatch(/\/link$/);
  expect(await holder.evaluate(() => history.length)).toBe(entriesBefore + 1);

  // Continue still works: the page kept the token in memory.
  await holder.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(holder).toHaveURL(/\/welcome$/);
  await expect(holder.getByText(`Signed in as ${invitee}`).first()).toBeVisible();
  await holder.goBack();
  expect(holder.url()).not.toContain(token);

  // A used link: the token leaves the URL too, and "Send me a new link" still works.
  const late = await (await newContext()).newPage();
  await gotoReady(late, link);
  await expect(late.getByText('This link has already been used').first()).toBeVisible();
  expect(await late.evaluate(() => location.hash)).toBe('');
  expect(late.url()).not.toContain(token);
  await late.getByRole('button', { name: 'Send me a new link', exact: true }).click();
  await expect(late.getByRole('status')).toContainText('A new link is on its way');
});

test('anonymous visitor of /dashboard is sent to /login', async ({ page }) => {
  await page.goto('/dashboard');
  await expect(page).toHaveURL(/\/login(\?.*)?$/);
  await expect(page.getByLabel('Email', { exact: true })).toBeVisible();
});

test('an unknown token says the link is not valid', async ({ page }) => {
  const unknown = `/link#${'A'.repeat(43)}`;
  for (const url of [unknown, '/link', '/link#not-a-token']) {
    // A fresh document each time: a fragment-only change would not reload /link.
    await page.goto('about:blank');
    await gotoReady(page, url);
    await expect(page.getByText('This link is not valid').first(), url).toBeVisible();
    await expect(page.getByRole('button', { name: 'Continue', exact: true })).toHaveCount(0);
  }
});

test('invitee signs out', async ({ page, newContext }) => {
  test.slow();
  const coworker = uniqueEmail('cw');
  const invitee = uniqueEmail('invitee');
  addCoworker(coworker, 'Dana Coworker');
  await signInCoworker(page, coworker);
  await issueLink(page, { email: invitee });
  const link = extractLink(await waitForMail(invitee));

  const context = await newContext();
  const invitePage = await context.newPage();
  await redeemAsInvitee(invitePage, link, invitee);
  const cookie = await sessionCookie(context);
  expect(cookie, 'a latchkey_session cookie was set').toBeDefined();

  await invitePage.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(invitePage.getByText(/not signed in/i).first()).toBeVisible();
  await invitePage.reload();
  await expect(invitePage.getByText(/not signed in/i).first()).toBeVisible();
  await expect(invitePage.getByText(/Signed in as/)).toHaveCount(0);

  // Sign out ended the session on the server: replaying the old cookie fails.
  const replay = await newContext();
  await replay.addCookies([cookie!]);
  const replayPage = await replay.newPage();
  await replayPage.goto('/welcome');
  await expect(replayPage.getByText(/not signed in/i).first()).toBeVisible();
  await expect(replayPage.getByText(/Signed in as/)).toHaveCount(0);
});

test('coworker signs out', async ({ page }) => {
  const email = uniqueEmail('cw');
  addCoworker(email, 'Eve Coworker');
  await signInCoworker(page, email);

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/login(\?.*)?$/);
  await page.goto('/dashboard');
  await expect(page).toHaveURL(/\/login(\?.*)?$/);
});

test('redeeming a second link replaces the session and cycles its id', async ({ page, newContext }) => {
  test.slow();
  const coworker = uniqueEmail('cw');
  const first = uniqueEmail('invitee-first');
  const second = uniqueEmail('invitee-second');
  addCoworker(coworker, 'Frank Coworker');
  await signInCoworker(page, coworker);
  await issueLink(page, { email: first });
  await gotoReady(page, '/dashboard'); // a fresh form for the second link
  await issueLink(page, { email: second });
  const firstLink = extractLink(await waitForMail(first));
  const secondLink = extractLink(await waitForMail(second));

  const context = await newContext();
  const invitePage = await context.newPage();
  await redeemAsInvitee(invitePage, firstLink, first);
  const firstCookie = await sessionCookie(context);
  expect(firstCookie).toBeDefined();

  await redeemAsInvitee(invitePage, secondLink, second);
  const secondCookie = await sessionCookie(context);
  expect(secondCookie).toBeDefined();
  expect(secondCookie!.value, 'the session id changes at sign-in').not.toBe(firstCookie!.value);
  await expect(invitePage.getByText(`Signed in as ${first}`)).toHaveCount(0);

  // The replaced session is gone on the server, not only in this browser.
  const replay = await newContext();
  await replay.addCookies([firstCookie!]);
  const replayPage = await replay.newPage();
  await replayPage.goto('/welcome');
  await expect(replayPage.getByText(/not signed in/i).first()).toBeVisible();
});

test('an unknown address gets the same answer and no mail', async ({ page }) => {
  const known = uniqueEmail('cw');
  const unknown = uniqueEmail('nobody');
  addCoworker(known, 'Grace Coworker');

  // The visible answer, with the submitted address masked out.
  async function requestSignIn(email: string): Promise<string> {
    await gotoReady(page, '/login');
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByRole('button', { name: 'Send sign-in link', exact: true }).click();
    await expect(page.getByText(/check your inbox/i).first()).toBeVisible();
    return (await page.locator('body').innerText()).split(email).join('<address>');
  }

  const unknownAnswer = await requestSignIn(unknown);
  const knownAnswer = await requestSignIn(known);
  expect(unknownAnswer).toBe(knownAnswer);

  // Mail goes out in order; once the known address has its mail, the unknown
  // one would have had its own by now.
  await waitForMail(known);
  const mails = await allMails();
  expect(mails.some((mail) => mail.to.some((to) => to.address.toLowerCase() === unknown))).toBe(false);
});

test('pages carry a nonce-based Content-Security-Policy and are neither cached nor indexed', async ({ page }) => {
  // Signed in, so /dashboard is the dashboard itself, not the sign-in page it sends
  // anonymous visitors to.
  const coworker = uniqueEmail('cw-headers');
  addCoworker(coworker, 'Hal Headers');
  await signInCoworker(page, coworker);
  for (const path of ['/login', '/link', '/dashboard', '/dashboard/coworkers']) {
    const response = await page.goto(path);
    expect(response, path).not.toBeNull();
    expect(new URL(page.url()).pathname, `${path} was not redirected`).toBe(path);
    const headers = await response!.allHeaders();
    expect(headers['x-frame-options'], path).toBe('DENY');
    expect(headers['cross-origin-opener-policy'], path).toBe('same-origin');
    expect(headers['content-security-policy'] ?? '', path).toContain("object-src 'none'");
    const policy = headers['content-security-policy'] ?? '';
    expect(policy, path).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+' 'wasm-unsafe-eval'/);
    expect(policy, path).not.toContain('unsafe-inline');
    expect(policy, path).toContain("frame-ancestors 'none'");
    expect(headers['cache-control'], path).toBe('no-store');
    expect(headers['x-robots-tag'], path).toContain('noindex');
    expect(headers['x-content-type-options'], path).toBe('nosniff');
    await waitForHydration(page); // the WASM app runs under the policy
  }
});
