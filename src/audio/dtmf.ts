import { encodeMulawSample, MULAW_BYTES_PER_MS } from './mulaw.js';

/** The two frequencies (Hz) of each keypad key (ITU-T Q.23). */
const TONES: Record<string, [number, number]> = {
  '1': [697, 1209],
  '2': [697, 1336],
  '3': [697, 1477],
  A: [697, 1633],
  '4': [770, 1209],
  '5': [770, 1336],
  '6': [770, 1477],
  B: [770, 1633],
  '7': [852, 1209],
  '8': [852, 1336],
  '9': [852, 1477],
  C: [852, 1633],
  '*': [941, 1209],
  '0': [941, 1336],
  '#': [941, 1477],
  D: [941, 1633],
};

export const DTMF_DIGITS = /^[0-9*#A-D]{1,32}$/;

/**
 * Keypad digits as in-band tones, μ-law 8 kHz: 100 ms per digit and 80 ms between, each tone at a
 * level IVRs detect. Media Streams carry DTMF only from the caller, so the agent dials its digits as
 * audio, the way a handset's tones travel over G.711.
 */
export function dtmfTones(digits: string): Buffer {
  const toneMs = 100;
  const gapMs = 80;
  const out = Buffer.alloc(digits.length * (toneMs + gapMs) * MULAW_BYTES_PER_MS, 0xff);
  let at = 0;
  for (const digit of digits) {
    const [low, high] = TONES[digit] ?? [0, 0];
    for (let i = 0; i < toneMs * MULAW_BYTES_PER_MS; i++) {
      const t = i / 8000;
      const sample = 6000 * (Math.sin(2 * Math.PI * low * t) + Math.sin(2 * Math.PI * high * t));
      out[at + i] = encodeMulawSample(Math.round(sample));
    }
    at += (toneMs + gapMs) * MULAW_BYTES_PER_MS;
  }
  return out;
}
