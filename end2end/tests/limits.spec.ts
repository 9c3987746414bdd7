// A refused request says, on the page, how long to wait.
import { addCoworker, expect, gotoReady, test, uniqueEmail } from './helpers';

test('a sign-in request over the budget says on the page how long to wait', async ({ page }) => {
  const email = uniqueEmail('cw-limited');
  addCoworker(email, 'Lim Ited');
  // The budget is five requests an hour for one address from one network, one more
  // every 12 minutes once spent.
  for (let i = 0; i < 5; i++) {
    const answer = await page.request.post('/api/request_signin', {
      headers: { accept: 'application/json' },
      form: { email },
    });
    expect(answer.status()).toBe(200);
  }
  await gotoReady(page, '/login');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Send sign-in link', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText(/Please wait 1[12] minutes and try again/);
});
