const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a duration such as `90s`, `15m`, `12h` or `7d` (a bare integer means seconds)
 * into whole seconds. Returns `undefined` for anything else, so callers can name the variable.
 */
export function parseDurationSeconds(value: string): number | undefined {
  const match = /^(\d{1,9})([smhd]?)$/.exec(value.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] || 's'];
  return seconds > 0 ? seconds : undefined;
}
