// What a browser does when another site tries to use Latchkey on a coworker's behalf,
// and the session cookie's attributes as the browser stores them.
import { BASE_URL } from '../e2e-env';
import { addCoworker, expect, gotoReady, linkRow, searchLinks, sessionCookie, signInCoworker, test, uniqueEmail } from './helpers';

const EVIL = 'http://evil.test';

test('a form on another site cannot issue a link, even for a signed-in coworker', async ({ page }) => {
  const coworker = uniqueEmail('cw-csrf');
  const target = uniqueEmail('csrf-target');
  addCoworker(coworker, 'Casey Coworker');
  await signInCoworker(page, coworker);

  // The attacker's page: served by Playwright under another origin, it posts a form
  // to Latchkey's API the moment it loads.
  await page.route(`${EVIL}/**`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><form method="post" action="${BASE_URL}/api/issue_link">
        <input name="email" value="${target}"><input name="expires_in" value="24h"></form>
        <script>document.forms[0].submit()</script>`,
    }),
  );
  const answer = page.waitForResponse((response) => response.url() === `${BASE_URL}/api/issue_link`);
  await page.goto(`${EVIL}/`);
  const response = await answer;
  expect(response.request().headers()['origin'], 'the browser named the attacking origin').toBe(EVIL);
  // 403 from the origin check (not 401 for a missing cookie): refused before any work.
  expect(response.status()).toBe(403);

  await gotoReady(page, '/dashboard');
  await expect(page.getByRole('button', { name: 'Send magic link', exact: true })).toBeVisible();
  // Searched, not looked for on the first page only: no link to the target anywhere.
  await searchLinks(page, target);
  await expect(page.getByText('No links match this filter.')).toBeVisible();
  await expect(linkRow(page, target)).toHaveCount(0);
});

test('the session cookie is HttpOnly, SameSite=Lax, host-only and for the whole site', async ({ page, context }) => {
  const coworker = uniqueEmail('cw-cookie');
  addCoworker(coworker, 'Cody Coworker');
  // The redeem's own Set-Cookie header, as the server sent it: on an address like
  // 127.0.0.1 the browser would make any cookie host-only, so the attribute is what counts.
  // Continue is a form post to /link, answered with a redirect that sets the cookie.
  const redeemed = page.waitForResponse(
    (response) => response.request().method() === 'POST' && new URL(response.url()).pathname === '/link',
  );
  await signInCoworker(page, coworker);
  const setCookies = await (await redeemed).headerValues('set-cookie');
  const attributesOf = (name: string) =>
    (setCookies.find((value) => value.startsWith(`${name}=`)) ?? '').split(';').map((part) => part.trim().toLowerCase());
  const attributes = attributesOf('latchkey_session');
  expect(attributes[0]).toMatch(/^latchkey_session=./);
  expect(attributes.filter((a) => a.startsWith('domain')), 'no Domain attribute').toEqual([]);
  for (const wanted of ['httponly', 'samesite=lax', 'path=/']) expect(attributes).toContain(wanted);
  // Beside it, the gate cookie: another value, for the gate alone, with the same attributes.
  const gate = attributesOf('latchkey_gate');
  expect(gate[0]).toMatch(/^latchkey_gate=[a-z0-9_-]{43}$/);
  expect(gate[0].split('=')[1]).not.toBe(attributes[0].split('=')[1]);
  for (const wanted of ['httponly', 'samesite=lax', 'path=/']) expect(gate).toContain(wanted);
  const cookie = await sessionCookie(context);
  expect(cookie).toMatchObject({ name: 'latchkey_session', httpOnly: true, sameSite: 'Lax', path: '/' });
  expect(cookie!.domain).toBe(new URL(BASE_URL).hostname);
  // The page's scripts cannot read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain('latchkey_session');
});
