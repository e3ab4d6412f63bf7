import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { basicCredentials } from '../src/revocation-feed.js';

export const CLIENT_ID = 'svc';
export const CLIENT_SECRET = 'a secret:with+odd chars';
export const ISSUER = 'tessera';
export const AUDIENCE = 'tessera-api';

export interface SigningKey {
  kid: string;
  alg: 'ES256';
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const exported = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(exported);
  return { kid, alg: 'ES256', privateKey, jwk: { ...exported, kid, alg: 'ES256', use: 'sig' } };
}

export interface TokenOverrides {
  sub?: string;
  sid?: string;
  roles?: string[];
  iss?: string;
  aud?: string;
  typ?: string;
  iat?: number;
  exp?: number;
  authTime?: number;
  acr?: string;
  amr?: string[];
}

/** An access token as Tessera signs it (header `typ: at+jwt`, `kid`; sub, sid, roles, auth_time, amr, acr). */
export async function mint(key: SigningKey, o: TokenOverrides = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const iat = o.iat ?? now;
  return new SignJWT({
    sid: o.sid ?? randomUUID(),
    roles: o.roles ?? [],
    auth_time: o.authTime ?? iat,
    amr: o.amr ?? ['pwd'],
    acr: o.acr ?? 'urn:tessera:aal1',
  })
    .setProtectedHeader({ alg: key.alg, typ: o.typ ?? 'at+jwt', kid: key.kid })
    .setSubject(o.sub ?? randomUUID())
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(o.exp ?? iat + 900)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

/**
 * A stand-in for Tessera's JWKS and revocation feed, controlled by the test: events are kept in
 * order with Redis-stream-like ids; a connection gets what it missed after its Last-Event-ID (or
 * `event: reset` and everything kept when that id is gone), then heartbeats and live events.
 */
export class FakeTessera {
  keys: SigningKey[] = [];
  jwksFetches = 0;
  /** Every Last-Event-ID a connection sent (undefined for none). */
  lastEventIds: (string | undefined)[] = [];
  /** Answer the feed with this status instead of a stream. */
  refuseWith?: number;
  /** No heartbeats (and no live events) while true: the connection goes silent. */
  silent = false;
  /** Answer 400 to any Last-Event-ID (a position this server cannot read). */
  refusePositions = false;
  /** Hold a new connection's replay (and heartbeats) back until released. */
  holdReplay = false;
  private events: { id: string; data: string }[] = [];
  private forgottenUpTo = 0;
  private seq = 0;
  private streams = new Set<ServerResponse>();
  private held = new Set<() => void>();
  private server!: Server;
  private heartbeat!: NodeJS.Timeout;

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  async start(heartbeatMs = 200): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.heartbeat = setInterval(() => {
      if (!this.silent) for (const res of this.streams) res.write(': hb\n\n');
    }, heartbeatMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.dropConnections();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Appends a revocation and sends it to every open stream (unless silent). Returns its id. */
  publish(event: object): string {
    const id = `${1732531200000 + ++this.seq}-0`;
    const entry = { id, data: JSON.stringify(event) };
    this.events.push(entry);
    if (!this.silent) for (const res of this.streams) res.write(this.frame(entry));
    return id;
  }

  revokeSession(sid: string, sub = 'someone', until = Math.floor(Date.now() / 1000) + 900): string {
    return this.publish({ type: 'session', sid, sub, until });
  }

  /** Trims every event kept so far (as the stream's MINID trimming would). */
  forgetAll(): void {
    this.forgottenUpTo = this.seq;
    this.events = [];
  }

  dropConnections(): void {
    for (const res of this.streams) res.destroy();
    this.streams.clear();
  }

  releaseReplay(): void {
    this.holdReplay = false;
    for (const release of this.held) release();
    this.held.clear();
  }

  private frame(entry: { id: string; data: string }, event = 'revocation'): string {
    return `event: ${event}\nid: ${entry.id}\ndata: ${entry.data}\n\n`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.url === '/.well-known/jwks.json') {
      this.jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys.map((k) => k.jwk) }));
      return;
    }
    if (req.url !== '/auth/revocations') {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== basicCredentials(CLIENT_ID, CLIENT_SECRET)) {
      res.writeHead(401, { 'content-type': 'application/problem+json' }).end('{"code":"invalid_client"}');
      return;
    }
    if (this.refuseWith) {
      res.writeHead(this.refuseWith, { 'content-type': 'application/problem+json' }).end('{}');
      return;
    }
    const last = req.headers['last-event-id'] as string | undefined;
    if (last !== undefined && this.refusePositions) {
      this.lastEventIds.push(last);
      res.writeHead(400, { 'content-type': 'application/problem+json' }).end('{"code":"validation_failed"}');
      return;
    }
    this.lastEventIds.push(last);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.flushHeaders();
    const replay = () => {
      const lastSeq = last === undefined ? 0 : Number(last.split('-')[0]) - 1732531200000;
      if (last !== undefined && lastSeq < this.forgottenUpTo) res.write(`event: reset\ndata: {}\n\n`);
      for (const entry of this.events) if (Number(entry.id.split('-')[0]) - 1732531200000 > lastSeq) res.write(this.frame(entry));
      // Replay first, then the first heartbeat: that is how the verifier knows it has caught up.
      res.write(': caught up\n\n');
      this.streams.add(res);
    };
    res.on('close', () => this.streams.delete(res));
    if (this.holdReplay) this.held.add(replay);
    else replay();
  }
}
