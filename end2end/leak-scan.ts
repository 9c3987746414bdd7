// The leak scans, run once after the whole suite (global-setup.ts): no token that any
// mail of this run carried may be in the server's log or in the database files (WAL
// included), in any form: the text, the 32 bytes it encodes, or their hex. Each token's
// SHA-256 must be what its link stores. One more sign-in flows through first, so the
// scan has something to look for even when a single spec ran.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { databaseUrl, onPostgres, runSql } from './database';
import { DATABASE_FILE, LATCHKEY_BIN, REPO_ROOT } from './e2e-env';

interface Scan {
  baseUrl: string;
  maildevUrl: string;
  env: Record<string, string>;
  stopServer: () => Promise<void>;
  databaseFile: string;
  serverLog: string;
  /** Other servers mailing through the same maildev (the gate's): scanned the same way. */
  others?: Array<{ databaseFile: string; serverLog: string; stopServer: () => Promise<void> }>;
}

const TOKEN_IN_LINK = /\/link#([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/g;

async function mailedTokens(maildevUrl: string): Promise<Set<string>> {
  const response = await fetch(`${maildevUrl}/api/email`);
  const mails = (await response.json()) as Array<{ text?: string; html?: string }>;
  const tokens = new Set<string>();
  for (const mail of mails) {
    for (const body of [mail.text ?? '', mail.html ?? '']) {
      for (const match of body.matchAll(TOKEN_IN_LINK)) tokens.add(match[1]);
    }
  }
  return tokens;
}

/** Every form a token could leak in. */
function forms(token: string): Array<[string, Buffer]> {
  const raw = Buffer.from(token, 'base64url');
  if (raw.length !== 32) throw new Error('a mailed token does not encode 32 bytes');
  const hex = raw.toString('hex');
  return [
    ['text', Buffer.from(token)],
    ['raw bytes', raw],
    ['hex', Buffer.from(hex)],
    ['HEX', Buffer.from(hex.toUpperCase())],
  ];
}

/** Fails naming how many tokens, and in which form, `bytes` holds; never the tokens. */
function assertNoToken(bytes: Buffer, tokens: Set<string>, what: string): void {
  if (bytes.includes('/link#')) throw new Error(`a link is in ${what}`);
  for (const [form] of forms([...tokens][0])) {
    const leaked = [...tokens].filter((token) => bytes.includes(forms(token).find(([f]) => f === form)![1]));
    if (leaked.length > 0) throw new Error(`${leaked.length} of ${tokens.size} tokens are in ${what} as ${form}`);
  }
}

/** What the database holds: its files (SQLite), or a dump of its data (PostgreSQL). */
function databaseFiles(databaseFile: string): Buffer {
  if (databaseFile === DATABASE_FILE && onPostgres()) {
    const dump = execFileSync('pg_dump', ['--data-only', databaseUrl()], { stdio: 'pipe', timeout: 60_000 });
    if (!dump.includes('COPY public.magic_links')) throw new Error('pg_dump did not dump the links');
    return dump;
  }
  const files = [databaseFile, `${databaseFile}-wal`, `${databaseFile}-journal`].filter((f) => existsSync(f));
  return Buffer.concat(files.map((file) => readFileSync(file)));
}

/** The hex of every stored token hash in the main server's PostgreSQL database. */
function storedHashesOnPostgres(): Set<string> {
  const rows = runSql("SELECT encode(token_hash, 'hex') FROM magic_links WHERE token_hash IS NOT NULL");
  return new Set(rows.map(([hex]) => hex));
}

/** The hex of every stored token hash. */
function storedHashes(databaseFile: string): Set<string> {
  if (databaseFile === DATABASE_FILE && onPostgres()) return storedHashesOnPostgres();
  const script = [
    'import sqlite3, sys',
    'db = sqlite3.connect(sys.argv[1], timeout=10)',
    'print("\\n".join(h for (h,) in db.execute("SELECT lower(hex(token_hash)) FROM magic_links WHERE token_hash IS NOT NULL")))',
  ].join('\n');
  const out = execFileSync('python3', ['-c', script, databaseFile], { stdio: 'pipe', timeout: 30_000 });
  return new Set(out.toString().split('\n').filter(Boolean));
}

export async function scanForLeaks(scan: Scan): Promise<void> {
  // One more sign-in, from request to session, through the real mail.
  const email = `leak-scan-${Date.now()}@example.test`;
  execFileSync(LATCHKEY_BIN, ['coworker', 'add', email, '--name', 'Ivy Auditor'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...scan.env },
    stdio: 'pipe',
    timeout: 30_000,
  });
  const form = (fields: Record<string, string>) => ({
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  await fetch(`${scan.baseUrl}/api/request_signin`, form({ email }));
  let token: string | undefined;
  for (let waited = 0; !token && waited < 10_000; waited += 50) {
    const response = await fetch(`${scan.maildevUrl}/api/email`);
    const mails = (await response.json()) as Array<{ to?: Array<{ address: string }>; text?: string }>;
    const mine = mails.find((mail) => mail.to?.some((to) => to.address === email));
    token = mine?.text ? [...mine.text.matchAll(TOKEN_IN_LINK)][0]?.[1] : undefined;
    if (!token) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!token) throw new Error('the leak scan\'s own sign-in mail never arrived');
  const redeemed = await fetch(`${scan.baseUrl}/api/redeem_link`, form({ token }));
  if (redeemed.status !== 200) throw new Error(`the leak scan's redeem answered ${redeemed.status}`);

  const tokens = await mailedTokens(scan.maildevUrl);
  if (!tokens.has(token)) throw new Error('the scan did not find its own token in the mail');

  // Each token is stored as its SHA-256, computed here, and as nothing else.
  const others = scan.others ?? [];
  const hashes = new Set([scan.databaseFile, ...others.map((other) => other.databaseFile)].flatMap((file) => [...storedHashes(file)]));
  const unhashed = [...tokens].filter((t) => !hashes.has(createHash('sha256').update(t).digest('hex')));
  if (unhashed.length > 0) throw new Error(`${unhashed.length} of ${tokens.size} mailed tokens are not stored as their SHA-256`);

  // While the server runs (the write-ahead log in use), and once it has stopped.
  assertNoToken(databaseFiles(scan.databaseFile), tokens, 'the database (running)');
  for (const other of others) assertNoToken(databaseFiles(other.databaseFile), tokens, `${other.databaseFile} (running)`);
  await scan.stopServer();
  for (const other of others) {
    await other.stopServer();
    assertNoToken(readFileSync(other.serverLog), tokens, other.serverLog);
    assertNoToken(databaseFiles(other.databaseFile), tokens, `${other.databaseFile} (stopped)`);
  }
  const log = readFileSync(scan.serverLog);
  if (log.length === 0) throw new Error(`${scan.serverLog} is empty`);
  for (const line of ['link redeemed', 'sign-in link sent']) {
    if (!log.includes(line)) throw new Error(`the server log does not say "${line}": it is not this run's`);
  }
  assertNoToken(log, tokens, 'the server log');
  assertNoToken(databaseFiles(scan.databaseFile), tokens, 'the database (stopped)');
  const where = onPostgres() ? 'the PostgreSQL database (pg_dump)' : 'the database';
  console.log(`leak scan: ${tokens.size} tokens, none in the log or ${where} in any form`);
}
