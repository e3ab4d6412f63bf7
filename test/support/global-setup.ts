/**
 * CI must test against the real Redis and PostgreSQL: when CI is set, both URLs are required and
 * must answer, so the suites that use them can never be skipped silently.
 */
export default async function globalSetup(): Promise<void> {
  if (!process.env.CI) return;
  const missing = ['REDIS_URL', 'DATABASE_URL'].filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(
      `CI is set but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not: refusing to skip the real-service tests`,
    );
  }
}
