// The comparison for the downstream bench: a service that protects GET /protected the way the
// verifier package makes unnecessary, by asking Tessera per request (RFC 7662 POST /oauth/introspect,
// HTTP Basic with a SERVICE_CLIENTS credential). Plain node:http, so the framework costs nothing.
import { createServer } from 'node:http';
import { URLSearchParams } from 'node:url';

const tessera = process.env.TESSERA_URL;
const [clientId, ...rest] = (process.env.TESSERA_CLIENT ?? '').split(':');
const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(rest.join(':'))}`).toString('base64')}`;

const server = createServer(async (request, response) => {
  const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  if (request.url !== '/protected') return response.writeHead(404).end();
  let active = false;
  if (token) {
    const answer = await fetch(`${tessera}/oauth/introspect`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    if (answer.status >= 500) return response.writeHead(503).end();
    active = answer.ok && (await answer.json()).active === true;
  }
  response.writeHead(active ? 200 : 401, { 'content-type': 'application/json' }).end(active ? '{"ok":true}' : '{"code":"invalid_token"}');
});
server.listen(Number(process.env.PORT), '127.0.0.1');
