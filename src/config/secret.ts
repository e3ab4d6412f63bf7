/** The shortest secret accepted in SERVER_SECRETS (or the generated development file), in bytes. */
export const MIN_SECRET_BYTES = 32;

/** Decodes one configured secret: hex (64+ digits) or base64url/base64 (43+ characters). */
export function decodeSecret(value: string): Buffer | undefined {
  const text = value.trim();
  const bytes = /^(?:[0-9a-fA-F]{2})+$/.test(text)
    ? Buffer.from(text, 'hex')
    : /^[A-Za-z0-9_+/-]+={0,2}$/.test(text)
      ? Buffer.from(text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url')
      : undefined;
  return bytes && bytes.length >= MIN_SECRET_BYTES ? bytes : undefined;
}
