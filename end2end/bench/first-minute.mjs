// The invitee's first minute, measured in Chromium on an emulated slow network:
// how long after navigation Continue works on a magic link's page, and what was
// downloaded by then. Run by `latchkey-bench` (make bench) against its own server:
//
//   node end2end/bench/first-minute.mjs BASE_URL < tokens   (one live token per line)
//
// Each token is one first visit in a fresh browser context (cold cache). Prints one JSON
// object. The network is Lighthouse's "slow 4G" as Chromium's DevTools emulate it:
// 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up, applied to every request.
//
// "Continue works" is the later of the first contentful paint (the button can be seen
// and pressed; the stylesheet blocks painting until it has arrived) and the moment the
// page's inline script has moved the token into the form (`data-ready` on the form; the
// script runs before DOMContentLoaded). Then the run presses Continue and checks that the
// browser lands signed in, so a number is only reported for a Continue that worked.
import { chromium } from '@playwright/test';

const NETWORK = {
  name: 'slow 4G (Lighthouse): 150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up',
  latency: 150,
  downloadThroughput: (1.6 * 1024 * 1024) / 8,
  uploadThroughput: (750 * 1024) / 8,
};

const base = process.argv[2];
if (!base) {
  console.error('usage: node first-minute.mjs BASE_URL < tokens');
  process.exit(2);
}
const tokens = (await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk) => (text += chunk));
  process.stdin.on('end', () => resolve(text));
}))
  .split('\n')
  .map((line) => line.trim())
  .filter(Boolean);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/** One first visit: the link opened in a fresh context, Continue pressed when it works. */
async function visit(token) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, ...NETWORK });

  // Every byte on the wire, with the (monotonic) time it arrived.
  const requests = new Map();
  const chunks = [];
  let navigationStart;
  cdp.on('Network.requestWillBeSent', (event) => {
    requests.set(event.requestId, { url: event.request.url, type: event.type, bytes: 0, finished: false });
    if (navigationStart === undefined && event.type === 'Document') navigationStart = event.timestamp;
  });
  cdp.on('Network.dataReceived', (event) => {
    chunks.push({ at: event.timestamp, bytes: event.encodedDataLength, id: event.requestId });
  });
  cdp.on('Network.responseReceived', (event) => {
    const request = requests.get(event.requestId);
    if (request) request.headersBytes = event.response.encodedDataLength ?? 0;
  });
  cdp.on('Network.loadingFinished', (event) => {
    const request = requests.get(event.requestId);
    if (request) Object.assign(request, { finished: true, finishedAt: event.timestamp, total: event.encodedDataLength });
  });

  await page.goto(`${base}/link#${token}`, { waitUntil: 'commit' });
  await page.locator('form#continue[data-ready]').waitFor({ state: 'attached', timeout: 60_000 });
  await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0, null, {
    timeout: 60_000,
  });
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return { domInteractive: nav.domInteractive, fcp: fcp.startTime };
  });
  const readyMs = Math.max(timing.fcp, timing.domInteractive);
  const readyAt = navigationStart + readyMs / 1000;

  // What had arrived by then: whole responses, and the chunks of those still coming.
  let bytes = 0;
  const resources = [];
  for (const [id, request] of requests) {
    const received = chunks.filter((c) => c.id === id && c.at <= readyAt).reduce((sum, c) => sum + c.bytes, 0);
    const whole = request.finished && request.finishedAt <= readyAt;
    const counted = whole ? request.total : received;
    if (counted > 0 || whole) {
      bytes += counted;
      resources.push({ path: new URL(request.url).pathname, type: request.type, bytes: counted, whole });
    }
  }

  const pressed = Date.now();
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await page.waitForURL(/\/welcome$/, { timeout: 60_000 });
  await page.getByText('Signed in as').first().waitFor({ timeout: 60_000 });
  const landedMs = Date.now() - pressed;
  const wasmStarted = [...requests.values()].some((r) => r.url.endsWith('.wasm'));
  await context.close();
  return { readyMs, fcpMs: timing.fcp, domInteractiveMs: timing.domInteractive, bytes, resources, landedMs, wasmStarted };
}

const runs = [];
for (const token of tokens) runs.push(await visit(token));
await browser.close();
if (runs.length === 0) {
  console.error('no tokens on standard input');
  process.exit(2);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
};
console.log(
  JSON.stringify({
    network: NETWORK.name,
    visits: runs.length,
    continue_ready_ms: median(runs.map((r) => r.readyMs)),
    continue_ready_ms_max: Math.max(...runs.map((r) => r.readyMs)),
    first_contentful_paint_ms: median(runs.map((r) => r.fcpMs)),
    bytes_before_continue: median(runs.map((r) => r.bytes)),
    bytes_before_continue_max: Math.max(...runs.map((r) => r.bytes)),
    resources_before_continue: runs[0].resources,
    press_to_signed_in_ms: median(runs.map((r) => r.landedMs)),
  }),
);
