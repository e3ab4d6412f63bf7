import { describe, expect, test } from '@jest/globals';
import { MAX_RETRY_DELAY_SECONDS, retryDelaySeconds } from './backoff.js';

describe('retryDelaySeconds', () => {
  test('doubles from the base with each failed attempt', () => {
    expect([1, 2, 3, 4, 5].map((attempts) => retryDelaySeconds(attempts, 30))).toEqual([30, 60, 120, 240, 480]);
  });

  test('is capped at an hour', () => {
    expect(retryDelaySeconds(8, 30)).toBe(3600); // 30 · 2^7 = 3840
    expect(retryDelaySeconds(100, 30)).toBe(MAX_RETRY_DELAY_SECONDS);
    expect(retryDelaySeconds(1, 7200)).toBe(3600);
  });

  test('treats attempt 0 like the first', () => {
    expect(retryDelaySeconds(0, 5)).toBe(5);
  });
});
