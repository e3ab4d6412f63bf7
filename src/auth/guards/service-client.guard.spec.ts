import { describe, expect, test } from '@jest/globals';
import type { ConfigType } from '@nestjs/config';
import type { authConfig } from '../../config/configuration.js';
import { parseBasicCredentials, ServiceClientGuard } from './service-client.guard.js';

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('ServiceClientGuard', () => {
  const guard = new ServiceClientGuard({
    serviceClients: [
      { id: 'billing', secret: 's3cret:with:colons' },
      { id: 'reports', secret: 'another' },
    ],
  } as ConfigType<typeof authConfig>);

  test('accepts each configured client with its own secret (form-encoded as RFC 6749 §2.3.1 says)', () => {
    expect(guard.authenticate(basic('billing', 's3cret:with:colons'))).toEqual({ id: 'billing' });
    expect(guard.authenticate(basic('reports', 'another'))).toEqual({ id: 'reports' });
  });

  test.each([
    ['a wrong secret', basic('billing', 'another')],
    ["another client's secret", basic('reports', 's3cret:with:colons')],
    ['an unknown id', basic('nobody', 'another')],
    ['no header', undefined],
    ['a Bearer token', 'Bearer abc'],
    ['no colon', `Basic ${Buffer.from('billing').toString('base64')}`],
    ['broken percent-encoding', `Basic ${Buffer.from('billing:%E0%A4%A').toString('base64')}`],
    ['an empty secret', basic('billing', '')],
  ])('refuses %s', (_what, header) => {
    expect(guard.authenticate(header)).toBeUndefined();
  });

  test('parses "+" as a space and a case-insensitive scheme', () => {
    expect(parseBasicCredentials(`basic ${Buffer.from('a+b:c%3Ad').toString('base64')}`)).toEqual({ id: 'a b', secret: 'c:d' });
  });
});
