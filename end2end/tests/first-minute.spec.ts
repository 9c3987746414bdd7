// The invitee's first minute: Continue and "Send me a new link" work with the WASM
// blocked (every .wasm request aborted), and the one-time code signs in from another
// device, with the WASM and without it.
import type { BrowserContext, Page } from '@playwright/test';
import {
  expect,
  expectAccessible,
  extractCode,
  extractLink,
  gotoReady,
  issueLink,
  linkRow,
  searchLinks,
  signInNewCoworker,
  test,
  waitForAnotherMail,
  waitForMail,
} from './helpers';

/** A browser in which no WebAssembly ever arrives. */
async function withoutWasm(context: BrowserContext): Promise<BrowserContext> {
  await context.route('**/*.wasm', (route) => route.abort());
  return context;
}

/** Opens `link` and waits until its Continue form holds the token (the page's script). */
async function openLink(page: Page, link: string): Promise<void> {
  await page.goto(link);
  await expect(page.locator('form#continue[data-ready]')).toHaveCount(1);
}

test('with the WASM blocked, an invitee presses Continue, lands where the link leads and the token is gone', async ({
  page,
  newContext,
}) => {
  const { tag } = await signInNewCoworker(page, 'Nadia');
  const invitee = `nowasm-${tag}@example.test`;
  await issueLink(page, { email: invitee });
  const mail = await waitForMail(invitee);
  const link = extractLink(mail);

  const phone = await (await withoutWasm(await newContext())).newPage();
  const wasm: string[] = [];
  phone.on('requestfailed', (request) => {
    if (request.url().endsWith('.wasm')) wasm.push(request.url());
  });
  await openLink(phone, link);
  // The token left the address bar at once, before anything was pressed.
  expect(new URL(phone.url()).hash).toBe('');
  expect(phone.url()).not.toContain(link.split('#')[1]);
  await expect(phone.getByRole('heading', { name: 'Continue to sign in' })).toBeVisible();
  await phone.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(phone).toHaveURL(/\/welcome$/);
  await expect(phone.getByText(`Signed in as ${invitee}`).first()).toBeVisible();
  expect(wasm.length, 'the WASM was asked for and refused').toBeGreaterThan(0);
  // The history entry of /link holds no token either.
  await phone.goBack();
  expect(phone.url()).not.toContain('#');

  // The same link a second time, still without the WASM: used, and a new one on offer.
  const second = await (await withoutWasm(await newContext())).newPage();
  await openLink(second, link);
  await second.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(second.getByRole('heading', { level: 1 })).toHaveText('This link has already been used');
  await expect(second.getByText('You can have a new one sent to you.')).toBeVisible();
  expect(new URL(second.url()).pathname).toBe('/link');
  await expectAccessible(second, '/link without WASM, a used link');
  await second.getByRole('button', { name: 'Send me a new link', exact: true }).click();
  await expect(second.getByRole('status')).toContainText('A new link is on its way to n…@example.test');
  const renewed = await waitForAnotherMail(invitee, [mail], 'invited you');
  expect(extractLink(renewed)).not.toBe(link);
});

test('with the WASM blocked, a revoked or unknown link says so after Continue', async ({ page, newContext }) => {
  const browser = await (await withoutWasm(await newContext())).newPage();
  await openLink(browser, `/link#${'A'.repeat(43)}`);
  await browser.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(browser.getByRole('heading', { level: 1 })).toHaveText('This link is not valid');
  await expect(browser.getByText('Ask the person who sent it for a new link.')).toBeVisible();
  // A link with no token at all.
  await openLink(browser, '/link');
  await browser.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(browser.getByRole('heading', { level: 1 })).toHaveText('This link is not valid');
  void page;
});

for (const wasm of ['with the WASM', 'with the WASM blocked']) {
  test(`${wasm}, the code from the mail signs in on another device; wrong codes are refused alike`, async ({
    page,
    newContext,
  }) => {
    const { tag } = await signInNewCoworker(page, 'Omar');
    const invitee = `code-${tag}@example.test`;
    await issueLink(page, { email: invitee });
    const mail = await waitForMail(invitee);
    expect(mail.text).toContain('Open the link on this device, or type the code at');
    const code = extractCode(mail);

    let context = await newContext();
    if (wasm !== 'with the WASM') context = await withoutWasm(context);
    const laptop = await context.newPage();
    await laptop.goto('/code');
    await expect(laptop.getByRole('heading', { name: 'Sign in with a code' })).toBeVisible();
    await expectAccessible(laptop, `/code ${wasm}`);

    // A wrong code, and an address with no invitation: the same answer.
    const answers: string[] = [];
    for (const email of [invitee, `nobody-${tag}@example.test`]) {
      await laptop.getByLabel('Email address').fill(email);
      await laptop.getByLabel('Code', { exact: true }).fill('2222-2222');
      await laptop.getByRole('button', { name: 'Continue', exact: true }).click();
      const alert = laptop.getByRole('alert');
      await expect(alert).toContainText('That code does not match.');
      answers.push((await alert.textContent()) ?? '');
      // The address typed is filled in again; the code is not.
      await expect(laptop.getByLabel('Email address')).toHaveValue(email);
      await expect(laptop.getByLabel('Code', { exact: true })).toHaveValue('');
    }
    expect(answers[0]).toBe(answers[1]);
    await expectAccessible(laptop, `/code ${wasm}, a refused code`);
    // The issuer sees the wrong try on the invitation's timeline.
    await gotoReady(page, '/dashboard');
    await searchLinks(page, invitee);
    await linkRow(page, invitee).getByRole('link', { name: invitee }).click();
    await expect(page.getByText('a wrong code was typed')).toBeVisible();

    // A code of the wrong shape is named as such.
    await laptop.getByLabel('Email address').fill(invitee);
    await laptop.getByLabel('Code', { exact: true }).fill('ABC');
    await laptop.getByRole('button', { name: 'Continue', exact: true }).click();
    await expect(laptop.getByRole('alert')).toContainText('A code is 8 letters and digits');

    // The right code, typed loosely (lower case, no hyphen): signed in, as by the link.
    await laptop.getByLabel('Email address').fill(invitee.toUpperCase());
    await laptop.getByLabel('Code', { exact: true }).fill(code.replace('-', '').toLowerCase());
    await laptop.getByRole('button', { name: 'Continue', exact: true }).click();
    await expect(laptop).toHaveURL(/\/welcome$/);
    await expect(laptop.getByText(`Signed in as ${invitee}`).first()).toBeVisible();

    // The link in the same mail is used with it.
    const phone = await (await newContext()).newPage();
    await phone.goto(extractLink(mail));
    await expect(phone.getByText('This link has already been used').first()).toBeVisible({ timeout: 15_000 });
  });
}
