// The suite's database, whichever engine serves it: the SQLite file in target/e2e, or,
// when the suite runs under `with-postgres` (make test's PostgreSQL pass), a fresh
// PostgreSQL database the global setup made (E2E_DATABASE_URL). The few tests that move
// time or pad a trail write it the way another process may, through `runSql`.
import { execFileSync } from 'node:child_process';
import { DATABASE_FILE } from './e2e-env';

/** The main server's database URL (the gate's Latchkey keeps its own SQLite file). */
export function databaseUrl(): string {
  return process.env.E2E_DATABASE_URL || `sqlite://${DATABASE_FILE}`;
}

export function onPostgres(): boolean {
  return databaseUrl().startsWith('postgres');
}

/**
 * Runs one statement with `$1`, `$2`… bound to `values` (text; cast in the SQL where a
 * number is meant) on the main server's database, and answers the rows of its result,
 * each as its columns' text. `sql` may name a statement per engine where they differ.
 */
export function runSql(sql: string | { sqlite: string; postgres: string }, values: string[] = []): string[][] {
  const text = typeof sql === 'string' ? sql : onPostgres() ? sql.postgres : sql.sqlite;
  let out: string;
  if (onPostgres()) {
    const literals = values.map((value) => `'${value.replace(/'/g, "''")}'`);
    const execute = values.length ? `EXECUTE q(${literals.join(', ')})` : 'EXECUTE q';
    out = execFileSync('psql', [databaseUrl(), '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', `PREPARE q AS ${text}; ${execute};`], {
      stdio: 'pipe',
      timeout: 30_000,
    }).toString();
  } else {
    // SQLite numbers its parameters ?1, ?2…
    const script = [
      'import sqlite3, sys',
      'db = sqlite3.connect(sys.argv[1], timeout=10)',
      'rows = db.execute(sys.argv[2], sys.argv[3:]).fetchall()',
      'db.commit()',
      'print("\\n".join("\\t".join(str(c) for c in row) for row in rows))',
    ].join('\n');
    out = execFileSync('python3', ['-c', script, DATABASE_FILE, text.replace(/\$(\d+)/g, '?$1'), ...values], {
      stdio: 'pipe',
      timeout: 30_000,
    }).toString();
  }
  return out
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t'));
}
