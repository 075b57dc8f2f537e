import { describe, expect, it } from 'vitest';
import { isBase64 } from '../../../src/audio/base64.js';

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
