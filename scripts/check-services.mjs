// Fails (exit 1) unless the Redis at REDIS_URL and the PostgreSQL at DATABASE_URL both answer.
// CI runs this before the tests, so an unreachable service fails the build instead of skipping tests.
import pg from 'pg';
import { createClient } from 'redis';

const failures = [];
for (const name of ['REDIS_URL', 'DATABASE_URL']) if (!process.env[name]) failures.push(`${name} is not set`);

if (process.env.REDIS_URL) {
  const client = createClient({ url: process.env.REDIS_URL, socket: { connectTimeout: 3000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const pong = await client.ping();
    if (pong !== 'PONG') failures.push(`Redis answered ${pong}`);
    await client.close();
  } catch (error) {
    failures.push(`Redis at REDIS_URL is unreachable: ${error.message}`);
  }
}

if (process.env.DATABASE_URL) {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
  } catch (error) {
    failures.push(`PostgreSQL at DATABASE_URL is unreachable: ${error.message}`);
  }
}

if (failures.length > 0) {
  for (const failure of failures) console.error(`services: ${failure}`);
  process.exit(1);
}
console.log('services: Redis and PostgreSQL answer');
