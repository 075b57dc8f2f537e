import { describe, expect, it } from 'vitest';
import { MAX_SILENCE_FILL_MS, silenceBase64 } from '../../../src/bridge/silence.js';

describe('silence helpers', () => {
  it('makes μ-law silence of the asked length without encoding', () => {
    const bytes = Buffer.from(silenceBase64(120), 'base64');
    expect(bytes.length).toBe(960);
    expect(bytes.every((b) => b === 0xff)).toBe(true);
    // capped, and rounded down to whole 3-byte base64 groups
    expect(Buffer.from(silenceBase64(10 * MAX_SILENCE_FILL_MS), 'base64').length).toBe(
      Math.floor((MAX_SILENCE_FILL_MS * 8) / 3) * 3,
    );
  });
});
