/**
 * Request bodies are flat DTOs; nothing legitimate nests deeper than this. class-transformer and
 * class-validator recurse once per level, so ~2,600 levels (under 16 KiB of `[[[[…`) overflow the
 * stack: the limit is checked on the raw text, before anything recursive sees it.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * How deep `[`/`{` nest in a JSON text, ignoring brackets inside strings; stops counting once past
 * `limit`. One pass, no recursion, no allocation. Malformed text is left for JSON.parse to refuse.
 */
export function jsonDepthExceeds(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}
