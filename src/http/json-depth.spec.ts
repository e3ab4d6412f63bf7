import { describe, expect, test } from '@jest/globals';
import { jsonDepthExceeds } from './json-depth.js';

describe('jsonDepthExceeds', () => {
  test('counts arrays and objects, not brackets inside strings', () => {
    expect(jsonDepthExceeds('{"a":[1,{"b":2}]}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"a":[1,{"b":[2]}]}', 3)).toBe(true);
    expect(jsonDepthExceeds(`{"a":"${'['.repeat(100)}"}`, 2)).toBe(false);
    expect(jsonDepthExceeds(`{"a":"\\"${'{'.repeat(100)}"}`, 2)).toBe(false);
    expect(jsonDepthExceeds(`${'['.repeat(33)}${']'.repeat(33)}`)).toBe(true);
    expect(jsonDepthExceeds(`${'['.repeat(32)}${']'.repeat(32)}`)).toBe(false);
    // Siblings do not add up.
    expect(jsonDepthExceeds(`[${Array(100).fill('[1]').join(',')}]`, 2)).toBe(false);
  });
});
