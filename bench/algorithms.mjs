// Measures JWT sign and verify cost per algorithm on this machine, with keys parsed once into
// KeyObjects (as Tessera does). Run: node bench/algorithms.mjs
import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { SignJWT, jwtVerify } from 'jose';

const payload = { sub: '0b7c6f7e-8f1a-4c55-9d6e-3f0b2a1c9e77', sid: 'k3J9x2mQ7vT1', roles: ['user'] };
const algs = {
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  EdDSA: () => generateKeyPairSync('ed25519'),
};

function time(fn, n) {
  for (let i = 0; i < Math.min(200, n); i++) fn();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t) / 1e3 / n; // µs per op
}
async function timeAsync(fn, n) {
  for (let i = 0; i < 200; i++) await fn();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t) / 1e3 / n;
}

const rows = [];
for (const [alg, gen] of Object.entries(algs)) {
  const { privateKey, publicKey } = gen();
  const row = { alg };
  if (alg !== 'EdDSA') {
    const token = jwt.sign(payload, privateKey, { algorithm: alg, expiresIn: 900 });
    row['jsonwebtoken sign µs'] = time(() => jwt.sign(payload, privateKey, { algorithm: alg, expiresIn: 900 }), 2000).toFixed(1);
    row['jsonwebtoken verify µs'] = time(() => jwt.verify(token, publicKey, { algorithms: [alg] }), 5000).toFixed(1);
  }
  const jtoken = await new SignJWT(payload).setProtectedHeader({ alg }).setExpirationTime('15m').sign(privateKey);
  row['jose sign µs'] = (
    await timeAsync(() => new SignJWT(payload).setProtectedHeader({ alg }).setExpirationTime('15m').sign(privateKey), 2000)
  ).toFixed(1);
  row['jose verify µs'] = (await timeAsync(() => jwtVerify(jtoken, publicKey, { algorithms: [alg] }), 5000)).toFixed(1);
  rows.push(row);
}
console.table(rows);
