// The gate's servers for tests/gate.spec.ts, started by global-setup.ts beside the main
// ones: the echo application (gate-echo.mjs, one upstream per application), a second
// `latchkey serve` configured as the gate (its own database, the cookie for
// latchkey.test), and real nginx and Caddy running the config files of docs/gate/ with
// only host names, ports and paths replaced. Everything listens on loopback ports the
// system picks, and the applications are registered with the CLI before any test.
//
// How each server gets its port from the system:
// - the echo application and Latchkey bind port 0 and say which port they got;
// - nginx refuses port 0, so this process binds the socket and hands it over the way
//   nginx's own binary upgrade does (the NGINX environment variable names the inherited
//   descriptor; nginx adopts it for the `listen` with that address);
// - Caddy binds port 0 (`http://host:0`) and its port is read back from /proc.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import {
  GATE_DIR,
  GATE_DOCS_DIR,
  GATE_READY_FILE,
  GATE_SERVER_LOG,
  LATCHKEY_BIN,
  REPO_ROOT,
  gateLatchkeyEnv,
} from './e2e-env';
import { listeningPorts, stop, waitFor } from './processes';

/** A literal replacement from a doc file to the config the tests run. */
export type Substitution = [doc: string, test: string];

/** Replaces every `from` with its `to` in one pass, the longest match first. */
export function substitute(text: string, pairs: Substitution[]): string {
  const lookup = new Map(pairs);
  const pattern = new RegExp(
    [...lookup.keys()]
      .sort((a, b) => b.length - a.length)
      .map((from) => from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('|'),
    'g',
  );
  return text.replace(pattern, (found) => lookup.get(found)!);
}

/** The marker line between Caddy's test-only global options and docs/gate/Caddyfile. */
export const CADDY_DOC_MARKER = '# ---- below: docs/gate/Caddyfile, only hosts and ports replaced ----';

export interface Gate {
  /** e.g. http://login.latchkey.test:41234 */
  url: string;
  nginxPort: number;
  caddyPort: number;
  stopLatchkey: () => Promise<void>;
  stopAll: () => Promise<void>;
}

function spawnLogged(command: string, args: string[], log: string, options: { env?: NodeJS.ProcessEnv; fds?: number[] } = {}) {
  const out = openSync(log, 'a');
  return spawn(command, args, {
    cwd: REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', out, out, ...(options.fds ?? [])],
  });
}

/** A loopback socket bound to a port the system picks, not yet accepting. */
async function boundSocket(): Promise<{ fd: number; port: number; close: () => void }> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 511 }, resolve);
  });
  const handle = (server as unknown as { _handle: { fd: number } })._handle;
  return { fd: handle.fd, port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** Answers once an HTTPS server answers anything at all on `port`. */
function httpsAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = https.get({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, timeout: 1_000 }, (response) => {
      response.resume();
      resolve(true);
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
  });
}

export async function startGate(smtpPort: string): Promise<Gate> {
  mkdirSync(GATE_DIR, { recursive: true });
  const children: ChildProcess[] = [];
  let latchkey: ChildProcess | undefined;
  const stopAll = async () => {
    for (const child of [...children].reverse()) await stop(child);
  };
  try {
    // The application behind the gate: one upstream for the wiki, one for Grafana.
    const echoLog = path.join(GATE_DIR, 'echo.log');
    const echo = spawnLogged(process.execPath, [path.join(__dirname, 'gate-echo.mjs'), 'wiki', 'grafana', 'docs', 'status'], echoLog);
    children.push(echo);
    const [wikiPort, grafanaPort, docsPort, statusPort] = await waitFor('the echo application', echoLog, echo, () => {
      const ports = /echo listening: wiki (\d+) grafana (\d+) docs (\d+) status (\d+)/.exec(readFileSync(echoLog, 'utf8'));
      return ports ? [ports[1], ports[2], ports[3], ports[4]] : undefined;
    });

    // The gate's Latchkey, on a fresh database.
    const bootEnv = { ...process.env, ...gateLatchkeyEnv(smtpPort, 'http://login.latchkey.test:0') };
    latchkey = spawnLogged(LATCHKEY_BIN, ['serve'], GATE_SERVER_LOG, { env: bootEnv });
    children.push(latchkey);
    const addr = await waitFor('the gate latchkey', GATE_SERVER_LOG, latchkey, () => {
      try {
        return readFileSync(GATE_READY_FILE, 'utf8').trim() || undefined;
      } catch {
        return undefined;
      }
    });
    const latchkeyPort = addr.split(':').pop()!;
    const url = `http://login.latchkey.test:${latchkeyPort}`;
    const health = await fetch(`http://127.0.0.1:${latchkeyPort}/healthz`);
    if (health.status !== 200) throw new Error(`the gate latchkey's health check answered ${health.status}`);

    // nginx: TLS with a throwaway certificate for *.latchkey.test.
    const nginxDir = path.join(GATE_DIR, 'nginx');
    mkdirSync(path.join(nginxDir, 'tls'), { recursive: true });
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=latchkey.test', '-addext', 'subjectAltName=DNS:*.latchkey.test',
      '-keyout', path.join(nginxDir, 'tls', 'privkey.pem'), '-out', path.join(nginxDir, 'tls', 'fullchain.pem'),
    ], { stdio: 'pipe' });
    const nginxSocket = await boundSocket();
    const nginxPairs: Substitution[] = [
      ['/etc/ssl/example.com/', `${nginxDir}/tls/`],
      ['latchkey.example.com', 'login-nginx.latchkey.test'],
      ['wiki.example.com', 'wiki.latchkey.test'],
      ['grafana.example.com', 'grafana.latchkey.test'],
      ['apps.example.com', 'apps.latchkey.test'],
      ['listen 443 ssl;', `listen 127.0.0.1:${nginxSocket.port} ssl;`],
      ['http://latchkey:3000', `http://127.0.0.1:${latchkeyPort}`],
      ['http://wiki:8080', `http://127.0.0.1:${wikiPort}`],
      ['http://grafana:3000', `http://127.0.0.1:${grafanaPort}`],
      ['http://docs:8080', `http://127.0.0.1:${docsPort}`],
      ['http://status:8080', `http://127.0.0.1:${statusPort}`],
    ];
    const site = path.join(nginxDir, 'site.conf');
    writeFileSync(site, substitute(readFileSync(path.join(GATE_DOCS_DIR, 'nginx.conf'), 'utf8'), nginxPairs));
    writeFileSync(path.join(nginxDir, 'substitutions.json'), JSON.stringify(nginxPairs, null, 2));
    // The main configuration around it, for an unprivileged nginx in the foreground.
    writeFileSync(
      path.join(nginxDir, 'nginx.conf'),
      [
        '# Test harness only (end2end/gate-setup.ts): runs docs/gate/nginx.conf as site.conf.',
        'daemon off;',
        'worker_processes 1;',
        `pid ${nginxDir}/nginx.pid;`,
        `error_log ${nginxDir}/error.log notice;`,
        'events { worker_connections 256; }',
        'http {',
        `    access_log ${nginxDir}/access.log;`,
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${nginxDir}/${kind}_temp;`),
        `    include ${site};`,
        '}',
        '',
      ].join('\n'),
    );
    const nginxLog = path.join(nginxDir, 'error.log');
    const nginx = spawnLogged(
      '/usr/sbin/nginx',
      ['-c', path.join(nginxDir, 'nginx.conf'), '-p', `${nginxDir}/`, '-e', nginxLog],
      nginxLog,
      // The bound socket becomes nginx's descriptor 3.
      { env: { ...process.env, NGINX: '3;' }, fds: [nginxSocket.fd] },
    );
    children.push(nginx);
    nginxSocket.close();
    await waitFor('nginx', nginxLog, nginx, async () => ((await httpsAnswers(nginxSocket.port)) ? true : undefined));

    // Caddy: plain HTTP; its one listener for all three sites binds port 0.
    const caddyDir = path.join(GATE_DIR, 'caddy');
    mkdirSync(path.join(caddyDir, 'data'), { recursive: true });
    const caddyPairs: Substitution[] = [
      ['latchkey.example.com {', 'http://login-caddy.latchkey.test:0 {'],
      ['wiki.example.com {', 'http://wiki-caddy.latchkey.test:0 {'],
      ['grafana.example.com {', 'http://grafana-caddy.latchkey.test:0 {'],
      ['latchkey:3000', `127.0.0.1:${latchkeyPort}`],
      ['wiki:8080', `127.0.0.1:${wikiPort}`],
      ['grafana:3000', `127.0.0.1:${grafanaPort}`],
    ];
    const caddyfile = path.join(caddyDir, 'Caddyfile');
    writeFileSync(
      caddyfile,
      [
        '# Test harness only (end2end/gate-setup.ts): plain HTTP on loopback, no admin endpoint,',
        '# storage in the run directory.',
        '{',
        '\tadmin off',
        '\tauto_https off',
        '\tdefault_bind 127.0.0.1',
        '\tstorage file_system {',
        `\t\troot ${caddyDir}/data`,
        '\t}',
        '}',
        CADDY_DOC_MARKER,
        substitute(readFileSync(path.join(GATE_DOCS_DIR, 'Caddyfile'), 'utf8'), caddyPairs),
      ].join('\n'),
    );
    writeFileSync(path.join(caddyDir, 'substitutions.json'), JSON.stringify(caddyPairs, null, 2));
    const caddyLog = path.join(caddyDir, 'caddy.log');
    const caddy = spawnLogged('/usr/bin/caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], caddyLog, {
      env: { ...process.env, HOME: caddyDir, XDG_DATA_HOME: `${caddyDir}/data`, XDG_CONFIG_HOME: `${caddyDir}/config` },
    });
    children.push(caddy);
    const caddyPort = await waitFor('caddy', caddyLog, caddy, () => listeningPorts(caddy.pid!)[0]);

    // The applications, by the address a browser types; the first is an invitation's default.
    const gateEnv = { ...process.env, ...gateLatchkeyEnv(smtpPort, url) };
    for (const [name, address] of [
      ['Wiki', `https://wiki.latchkey.test:${nginxSocket.port}`],
      ['Grafana', `https://grafana.latchkey.test:${nginxSocket.port}`],
      ['Docs', `https://apps.latchkey.test:${nginxSocket.port}/docs`],
      ['Status', `https://apps.latchkey.test:${nginxSocket.port}/status`],
      ['Wiki (Caddy)', `http://wiki-caddy.latchkey.test:${caddyPort}`],
      ['Grafana (Caddy)', `http://grafana-caddy.latchkey.test:${caddyPort}`],
    ]) {
      execFileSync(LATCHKEY_BIN, ['app', 'add', name, address], { cwd: REPO_ROOT, env: gateEnv, stdio: 'pipe', timeout: 30_000 });
    }

    return { url, nginxPort: nginxSocket.port, caddyPort, stopLatchkey: () => stop(latchkey), stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
