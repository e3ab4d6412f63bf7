import { describe, expect, it } from '@jest/globals';
import { basicCredentials } from './revocation-feed.js';

describe('basicCredentials', () => {
  it('form-urlencodes id and secret before joining them (RFC 6749 §2.3.1), as Tessera decodes them', () => {
    const header = basicCredentials('svc one', 'a b:c+d%é');
    expect(header.startsWith('Basic ')).toBe(true);
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    expect(decoded).toBe('svc+one:a+b%3Ac%2Bd%25%C3%A9');
    // Tessera's ServiceClientGuard: split at the first colon, then form-decode each half.
    const colon = decoded.indexOf(':');
    const formDecode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
    expect([formDecode(decoded.slice(0, colon)), formDecode(decoded.slice(colon + 1))]).toEqual(['svc one', 'a b:c+d%é']);
  });
});
