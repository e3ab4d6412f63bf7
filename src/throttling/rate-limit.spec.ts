import { describe, expect, test } from '@jest/globals';
import { addressBucket } from '../common/address-bucket.js';

describe('rate-limit buckets', () => {
  test.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s counts as %s', (ip, bucket) => {
    expect(addressBucket(ip)).toBe(bucket);
  });

  test('addresses in one /64 share a bucket; other /64s do not', () => {
    expect(addressBucket('2001:db8:1:2::a')).toBe(addressBucket('2001:db8:1:2:9999::b'));
    expect(addressBucket('2001:db8:1:3::a')).not.toBe(addressBucket('2001:db8:1:2::a'));
  });
});
