import { describe, expect, it } from 'vitest';
import { decodeMulaw, encodeMulaw, MULAW_SILENCE, mulawRms, mulawTone } from '../../../src/audio/mulaw.js';

describe('G.711 μ-law', () => {
  it('round-trips samples within the codec quantisation', () => {
    const samples = Int16Array.from([0, 100, -100, 1000, -1000, 12000, -32000, 32767]);
    const back = decodeMulaw(encodeMulaw(samples));
    for (let i = 0; i < samples.length; i++) {
      expect(Math.abs(back[i]! - samples[i]!)).toBeLessThanOrEqual(Math.max(8, Math.abs(samples[i]!) * 0.07));
    }
  });

  it('0xFF is silence and a tone has energy', () => {
    expect(decodeMulaw(Uint8Array.of(MULAW_SILENCE))[0]).toBe(0);
    expect(mulawRms(Buffer.alloc(160, MULAW_SILENCE))).toBe(0);
    expect(mulawRms(mulawTone(20))).toBeGreaterThan(4000);
  });
});
