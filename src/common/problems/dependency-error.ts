/**
 * A backing service (Redis, the database) failed or timed out. Always answered with 503:
 * Tessera fails closed rather than letting a request through unchecked.
 */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: 'redis' | 'database',
    cause?: unknown,
  ) {
    super(`${dependency} is unavailable`, { cause });
    this.name = 'DependencyUnavailableError';
  }
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  // PostgreSQL: connection exceptions, admin/crash shutdown, cannot connect now, too many connections
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  // A statement cancelled by the driver's or the server's timeout: the database is too slow to answer.
  '57014',
]);

/** True for errors that mean "a dependency is down", wherever they were thrown from. */
export function isDependencyFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DependencyUnavailableError) return true;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
    if (
      typeof message === 'string' &&
      /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|The client is closed|Socket closed unexpectedly/i.test(
        message,
      )
    ) {
      return true;
    }
  }
  return false;
}
