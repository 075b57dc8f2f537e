import { describe, expect, it } from 'vitest';
import { base64ByteLength, isBase64 } from '../../../src/audio/base64.js';

describe('isBase64', () => {
  const anchored = /^[A-Za-z0-9+/]*={0,2}$/;
  it('answers exactly as the anchored pattern does', () => {
    const alphabet = 'Aa0+/=-_" \\\n';
    const samples = ['', 'AAAA', 'AA==', 'AAA=', '/////w==', Buffer.alloc(160, 0xff).toString('base64')];
    // every string of up to four characters over the alphabet, and padding in every place
    const grow = (prefix: string, depth: number): void => {
      samples.push(prefix);
      if (depth > 0) for (const c of alphabet) grow(prefix + c, depth - 1);
    };
    grow('', 4);
    for (const text of samples) expect(isBase64(text), JSON.stringify(text)).toBe(anchored.test(text));
  });

  it('refuses what would break a JSON frame it is embedded in', () => {
    expect(isBase64('AA"A')).toBe(false);
    expect(isBase64('AA\\u0041')).toBe(false);
    expect(isBase64('AAA=A')).toBe(false);
    expect(isBase64('A===')).toBe(false);
  });
});

describe('base64ByteLength', () => {
  it('matches what Buffer decodes for every base64 text, padded or not (an "AAA" payload)', () => {
    for (const text of ['AAA', 'AA', 'A', 'AAAAA', 'AAAAAA', 'AAAAAAA', 'AAA=', 'AA==', '/////w', '/////w=='])
      expect(base64ByteLength(text), text).toBe(Buffer.from(text, 'base64').length);
  });

  it('computes base64 byte length with and without padding', () => {
    for (const n of [0, 1, 2, 3, 159, 160, 161]) {
      expect(base64ByteLength(Buffer.alloc(n, 7).toString('base64'))).toBe(n);
    }
  });
});
