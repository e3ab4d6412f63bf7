#!/usr/bin/env node
/**
 * What the password policy costs: loading the common-password list (time, memory) and one check.
 * Runs the built policy: `npm run build && node --expose-gc scripts/password-policy-bench.mjs`.
 * Numbers go to docs/performance.md.
 */
import { performance } from 'node:perf_hooks';

const gc = globalThis.gc ?? (() => undefined);
if (!globalThis.gc) console.warn('(run with --expose-gc for steadier memory numbers)');

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const rss = () => process.memoryUsage().rss;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// The rest of the policy module (Nest, the config) first, so the list's cost is measured alone.
await import('@nestjs/common');
const { parseAccountsConfig, parseMailConfig } = await import('../dist/config/configuration.js');

const before = heap();
const rssBefore = rss();
let started = performance.now();
const { dictionary } = await import('@zxcvbn-ts/language-common');
const imported = performance.now() - started;
const afterImport = heap();
started = performance.now();
const { commonPasswordList, PasswordPolicy } = await import('../dist/auth/passwords/password-policy.js');
const list = commonPasswordList();
const built = performance.now() - started;
const afterSet = heap();
const rssAfter = rss();

console.log(`common passwords: ${list.size} distinct (${dictionary['passwords-common'].length} in the package)`);
console.log(`import @zxcvbn-ts/language-common: ${imported.toFixed(1)} ms, heap +${mib(afterImport - before)}`);
console.log(`build the Set (NFKC, lower case): ${built.toFixed(1)} ms, heap +${mib(afterSet - afterImport)}`);
console.log(`total at start: ${(imported + built).toFixed(1)} ms, heap +${mib(afterSet - before)}, RSS +${mib(rssAfter - rssBefore)}`);

const policy = new PasswordPolicy(parseAccountsConfig({}), parseMailConfig({}));
const email = 'ada.lovelace@example.com';
const cases = {
  'accepted passphrase (28 chars)': 'correct horse battery staple',
  'common password (refused)': 'passwordpassword',
  'contains the email (refused)': 'ada.lovelace is my password',
  'full-width, NFKC first (refused)': 'ｐａｓｓｗｏｒｄｐａｓｓｗｏｒｄ',
  'accepted, 1024 chars (the maximum)': 'vivid lantern orbit '.repeat(52).slice(0, 1024),
};
const N = 200_000;
for (const [name, password] of Object.entries(cases)) {
  for (let i = 0; i < 10_000; i++) policy.refusal(password, email); // warm-up
  started = performance.now();
  for (let i = 0; i < N; i++) policy.refusal(password, email);
  const perCall = ((performance.now() - started) * 1000) / N;
  console.log(`check, ${name}: ${perCall.toFixed(2)} µs`);
}
