import { describe, expect, it } from '@jest/globals';
import { parseRevocation, RevocationSet } from './revocation-set.js';

const TOLERANCE = 5;
const LIFETIME = 900;

describe('RevocationSet', () => {
  const now = 1_800_000_000; // seconds

  it('refuses every token of an ended session until `until` (plus the tolerance), then forgets it', () => {
    const set = new RevocationSet(TOLERANCE, LIFETIME);
    const until = now + LIFETIME + 60;
    set.apply({ type: 'session', sid: 's1', sub: 'u1', until }, now * 1000);
    expect(set.isRevoked({ sid: 's1', sub: 'u1', iat: now })).toBe(true);
    expect(set.isRevoked({ sid: 's2', sub: 'u1', iat: now })).toBe(false);
    set.prune((until + TOLERANCE) * 1000);
    expect(set.isRevoked({ sid: 's1', sub: 'u1', iat: now })).toBe(true);
    set.prune((until + TOLERANCE + 1) * 1000);
    expect(set.size.sessions).toBe(0);
  });

  it('keeps an ended session at least a token lifetime after it was received, whatever `until` says', () => {
    const set = new RevocationSet(TOLERANCE, LIFETIME);
    set.apply({ type: 'session', sid: 's1', sub: 'u1', until: now - 60 }, now * 1000);
    set.prune(now * 1000);
    expect(set.isRevoked({ sid: 's1', sub: 'u1', iat: now })).toBe(true);
    set.prune((now + LIFETIME + TOLERANCE) * 1000);
    expect(set.isRevoked({ sid: 's1', sub: 'u1', iat: now })).toBe(true);
    set.prune((now + LIFETIME + TOLERANCE + 1) * 1000);
    expect(set.size.sessions).toBe(0);
  });

  it("refuses a user's tokens issued before notBefore while such a token can live, then forgets it", () => {
    const set = new RevocationSet(TOLERANCE, LIFETIME);
    set.apply({ type: 'user', sub: 'u1', notBefore: now });
    expect(set.isRevoked({ sid: 'a', sub: 'u1', iat: now - 1 })).toBe(true);
    expect(set.isRevoked({ sid: 'a', sub: 'u1', iat: now })).toBe(false);
    expect(set.isRevoked({ sid: 'a', sub: 'u2', iat: now - 1 })).toBe(false);
    // A token issued just before notBefore lives until now - 1 + LIFETIME: the entry outlives it.
    set.prune((now + LIFETIME + TOLERANCE) * 1000);
    expect(set.isRevoked({ sid: 'a', sub: 'u1', iat: now - 1 })).toBe(true);
    set.prune((now + LIFETIME + TOLERANCE + 1) * 1000);
    expect(set.size.users).toBe(0);
  });

  it('keeps the later of two events (a replay never shortens an entry)', () => {
    const set = new RevocationSet(TOLERANCE, LIFETIME);
    set.apply({ type: 'user', sub: 'u1', notBefore: now });
    set.apply({ type: 'user', sub: 'u1', notBefore: now - 100 });
    expect(set.isRevoked({ sid: 'a', sub: 'u1', iat: now - 50 })).toBe(true);
    set.apply({ type: 'session', sid: 's', sub: 'u1', until: now + LIFETIME + 100 }, now * 1000);
    set.apply({ type: 'session', sid: 's', sub: 'u1', until: now + 10 }, now * 1000);
    set.prune((now + LIFETIME + 50) * 1000);
    expect(set.isRevoked({ sid: 's', sub: 'u1', iat: now })).toBe(true);
  });

  it('reads the two event kinds of the contract and nothing else', () => {
    expect(parseRevocation('{"type":"session","sid":"s","sub":"u","until":1}')).toEqual({ type: 'session', sid: 's', sub: 'u', until: 1 });
    expect(parseRevocation('{"type":"user","sub":"u","notBefore":2}')).toEqual({ type: 'user', sub: 'u', notBefore: 2 });
    for (const bad of [
      '',
      'null',
      '[]',
      '{"type":"session","sid":"s","sub":"u"}',
      '{"type":"user","sub":1,"notBefore":2}',
      '{"type":"other"}',
    ])
      expect(parseRevocation(bad)).toBeUndefined();
  });
});
