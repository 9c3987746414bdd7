// Leak scans over everything this run produced. Playwright sorts test files by
// name and the config runs one worker, so this file runs after all the others.
import { existsSync, readFileSync } from 'node:fs';
import { DATABASE_FILE, SERVER_LOG } from '../e2e-env';
import { addCoworker, allMails, expect, signInCoworker, test, tokensInMails, uniqueEmail } from './helpers';

test('server log never contains a token or link', async ({ page }) => {
  // Issue, open and redeem one more link, so the scan is meaningful even when
  // this file runs on its own.
  const email = uniqueEmail('cw-audit');
  addCoworker(email, 'Ivy Auditor');
  await signInCoworker(page, email);

  const tokens = tokensInMails(await allMails());
  expect(tokens.size, 'tokens mailed in this run').toBeGreaterThan(0);

  const log = readFileSync(SERVER_LOG, 'utf8');
  expect(log.trim().length, `${SERVER_LOG} is not empty`).toBeGreaterThan(0);
  // Booleans, not toContain: a failure must not print the whole log.
  expect(log.includes('/link#'), 'the log contains "/link#"').toBe(false);
  const leaked = [...tokens].filter((token) => log.includes(token));
  expect(leaked.length, `${leaked.length} of ${tokens.size} tokens appear in ${SERVER_LOG}`).toBe(0);
});

test('the database never stores a plaintext token', async () => {
  const tokens = tokensInMails(await allMails());
  expect(tokens.size, 'tokens mailed in this run').toBeGreaterThan(0);

  // The main file and whatever SQLite has not checkpointed into it yet.
  const files = [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-journal`].filter((file) => existsSync(file));
  expect(files, 'the database file exists').toContain(DATABASE_FILE);
  for (const file of files) {
    const bytes = readFileSync(file).toString('latin1');
    const leaked = [...tokens].filter((token) => bytes.includes(token));
    expect(leaked.length, `${leaked.length} of ${tokens.size} tokens stored in plain text in ${file}`).toBe(0);
  }
});
