// The application behind the gate in the gate specs: for any path, a page that shows the
// identity headers the proxy passed on, the cookies, the path and the Host, so a spec can read what an
// application behind Latchkey would see. One listener per name given on the command line
// (a distinct upstream per application, as in docs/gate/), each on a port the system
// picks; prints `echo listening: NAME PORT ...` and runs until SIGTERM.
import http from 'node:http';

const HEADERS = ['remote-user', 'remote-email', 'remote-name', 'remote-groups', 'remote-link', 'cookie'];

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page(name, request) {
  const rows = [
    ['application', name],
    ['host', request.headers.host ?? ''],
    ['path', request.url],
    // A header sent twice (a forged copy beside the real one) shows as both, joined.
    ...HEADERS.map((header) => [header, [request.headersDistinct[header] ?? []].flat().join(' | ')]),
  ];
  const list = rows.map(([key, value]) => `<dt>${escape(key)}</dt><dd id="${key}">${escape(value)}</dd>`).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(name)}</title></head>
<body><main><h1>${escape(name)}</h1><dl>
${list}
</dl></main></body></html>`;
}

const names = process.argv.slice(2);
if (names.length === 0) throw new Error('usage: gate-echo.mjs NAME...');
const servers = [];
const ports = [];
for (const name of names) {
  const server = http.createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : page(name, request));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  ports.push(`${name} ${server.address().port}`);
}
console.log(`echo listening: ${ports.join(' ')}`);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    for (const server of servers) server.close();
    process.exit(0);
  });
}
