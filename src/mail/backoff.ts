/** No mail waits longer than this between two attempts, however many attempts failed. */
export const MAX_RETRY_DELAY_SECONDS = 3600;

/**
 * Seconds to wait after the `attempts`-th failed attempt (1 = the first): `base · 2^(attempts-1)`,
 * capped at an hour, so a long SMTP outage costs a few attempts an hour rather than one per poll.
 */
export function retryDelaySeconds(attempts: number, baseSeconds: number): number {
  const exponent = Math.max(0, attempts - 1);
  // 2^exponent overflows nothing that matters: past the cap the answer is the cap anyway.
  return Math.min(baseSeconds * 2 ** Math.min(exponent, 30), MAX_RETRY_DELAY_SECONDS);
}
