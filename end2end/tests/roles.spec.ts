// Coworker roles through the dashboard: an admin makes a coworker an admin and back, and
// the change holds from that coworker's next page.
import { expect, signInCoworker, signInNewCoworker, test, waitForHydration } from './helpers';

test('an admin makes a coworker an admin, and a plain coworker again', async ({ page, newContext }) => {
  test.slow();
  const { tag } = await signInNewCoworker(page, 'Rhea', { admin: true });
  const colleague = `promoted-${tag}@example.test`;
  await page.getByRole('link', { name: 'Manage coworkers', exact: true }).click();
  await expect(page).toHaveURL(/\/dashboard\/coworkers$/);
  await waitForHydration(page);
  await page.getByLabel('Coworker email', { exact: true }).fill(colleague);
  await page.getByRole('button', { name: 'Add coworker', exact: true }).click();
  await expect(page.getByRole('status')).toContainText('Added');
  const row = page.getByRole('row').filter({ hasText: colleague });
  await expect(row.getByRole('cell', { name: 'Coworker', exact: true })).toBeVisible();

  const theirs = await (await newContext()).newPage();
  await signInCoworker(theirs, colleague);
  await expect(theirs.getByRole('link', { name: 'Manage coworkers' })).toHaveCount(0);

  await row.getByRole('button', { name: 'Make admin', exact: true }).click();
  await expect(row.getByRole('cell', { name: 'Admin', exact: true })).toBeVisible();
  await theirs.reload();
  await expect(theirs.getByRole('link', { name: 'Manage coworkers', exact: true })).toBeVisible();

  await row.getByRole('button', { name: 'Make coworker', exact: true }).click();
  await expect(row.getByRole('cell', { name: 'Coworker', exact: true })).toBeVisible();
  await theirs.goto('/dashboard/coworkers');
  await expect(theirs.getByRole('alert')).toBeVisible();
});
