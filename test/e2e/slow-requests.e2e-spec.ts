import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { startApp, type TestApp } from '../support/app.js';
import { sleep } from '../support/services.js';

/** Everything a raw socket receives until the server closes it, or until `waitMs` passes. */
function collect(
  socket: Socket,
  waitMs: number,
  until?: (data: string) => boolean,
): Promise<{ closed: boolean; data: string; afterMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    let data = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      resolve({ closed, data, afterMs: Date.now() - started });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (until?.(data)) done(false);
    });
    socket.on('close', () => done(true));
    socket.on('error', () => undefined);
  });
}

async function openSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}

/** Headers complete, body promised (Content-Length: 100) but only 10 bytes of it sent. */
function unfinishedLogin(forwardedFor?: string): string {
  return [
    'POST /auth/login HTTP/1.1',
    'Host: localhost',
    'Content-Type: application/json',
    'Content-Length: 100',
    ...(forwardedFor ? [`X-Forwarded-For: ${forwardedFor}`] : []),
    '',
    '{"email":"',
  ].join('\r\n');
}

async function listeningPort(t: TestApp): Promise<number> {
  await t.app.listen(0, '127.0.0.1');
  return (t.app.getHttpServer().address() as { port: number }).port;
}

describe('a request whose body never finishes', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startApp({ REQUEST_TIMEOUT: '1s', KEEP_ALIVE_TIMEOUT: '2s' });
    port = await listeningPort(t);
  });
  afterAll(async () => {
    await t.close();
  });

  test('is answered 408 (or closed) within REQUEST_TIMEOUT plus a generous margin', async () => {
    const socket = await openSocket(port);
    socket.write(unfinishedLogin());
    // 1 s timeout, checked every second: 15 s is a wide margin on a busy machine.
    const result = await collect(socket, 15_000);
    socket.destroy();
    expect(result.closed).toBe(true);
    if (result.data) {
      expect(result.data).toMatch(/^HTTP\/1\.1 408 /);
      expect(result.data).toContain('application/problem+json');
      expect(result.data).toContain('"code":"request_timeout"');
    }
  });

  test('an idle keep-alive connection is closed too', async () => {
    const socket = await openSocket(port);
    socket.write('GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n');
    // 2 s keep-alive: 20 s is a wide margin.
    const result = await collect(socket, 20_000);
    socket.destroy();
    expect(result.data).toMatch(/^HTTP\/1\.1 200 /);
    expect(result.closed).toBe(true);
  });
});

describe('unfinished requests per client', () => {
  let t: TestApp;
  let port: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    t = await startApp({ TRUST_PROXY: 'loopback', MAX_PENDING_REQUESTS_PER_CLIENT: '4', REQUEST_TIMEOUT: '60s' });
    port = await listeningPort(t);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await t.close();
  });

  test('behind a trusted proxy, the (cap+1)th unfinished request of one forwarded client is 429; another client is unaffected', async () => {
    for (let i = 0; i < 4; i++) {
      const socket = await openSocket(port);
      sockets.push(socket);
      socket.write(unfinishedLogin('10.9.8.7'));
    }
    // Let the server read those headers (a generous pause; nothing here depends on its length).
    await sleep(1000);
    const over = await openSocket(port);
    sockets.push(over);
    over.write(unfinishedLogin('10.9.8.7'));
    const refused = await collect(over, 15_000);
    expect(refused.data).toMatch(/^HTTP\/1\.1 429 /);
    expect(refused.data).toMatch(/\r\nconnection: close\r\n/i);
    expect(refused.data).toContain('"code":"rate_limited"');

    // Another forwarded address still gets a full answer (here: 400 for a bad body, not 429).
    const other = await openSocket(port);
    sockets.push(other);
    const body = '{"email":"x"}';
    other.write(
      `POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nX-Forwarded-For: 10.9.8.8\r\nConnection: close\r\n\r\n${body}`,
    );
    const answered = await collect(other, 15_000);
    expect(answered.data).toMatch(/^HTTP\/1\.1 400 /);

    // Finishing one of the pending bodies frees a slot for the first client.
    const finished = sockets[0];
    const rest = '"}'.padEnd(90, ' ');
    finished.write(rest);
    const finishedAnswer = await collect(finished, 15_000, (data) => /\r\n\r\n[\s\S]*\}$/.test(data));
    expect(finishedAnswer.data).toMatch(/^HTTP\/1\.1 400 /);
    const again = await openSocket(port);
    sockets.push(again);
    again.write(unfinishedLogin('10.9.8.7'));
    const pending = await collect(again, 1500);
    expect(pending).toMatchObject({ closed: false, data: '' });
  });
  test('counted like the rate limits: one IPv6 /64 is one client, and ::ffff:a.b.c.d is a.b.c.d', async () => {
    for (const [fill, over] of [
      [['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::3', '2001:db8:1:2:abcd:1:2:3'], '2001:db8:1:2::99'],
      [['10.7.7.7', '::ffff:10.7.7.7', '10.7.7.7', '::ffff:10.7.7.7'], '10.7.7.7'],
    ] as const) {
      for (const address of fill) {
        const socket = await openSocket(port);
        sockets.push(socket);
        socket.write(unfinishedLogin(address));
      }
      await sleep(1000);
      const socket = await openSocket(port);
      sockets.push(socket);
      socket.write(unfinishedLogin(over));
      const refused = await collect(socket, 15_000);
      expect([over, refused.data.slice(0, 12)]).toEqual([over, 'HTTP/1.1 429']);
    }
  });
});
