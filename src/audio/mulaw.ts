/**
 * G.711 μ-law helpers. The call path never transcodes (μ-law goes through untouched); these are for
 * `simulate` (WAV in/out), the test fakes' energy VAD and synthetic test audio.
 */

/** μ-law silence: the code for a zero sample. */
export const MULAW_SILENCE = 0xff;
/** 8 kHz μ-law: one byte per sample, 8 bytes per millisecond. */
export const MULAW_BYTES_PER_MS = 8;
/** Twilio's frame: 20 ms = 160 bytes. */
export const FRAME_MS = 20;
export const FRAME_BYTES = FRAME_MS * MULAW_BYTES_PER_MS;

const BIAS = 0x84;
const CLIP = 32635;

const DECODE_TABLE = (() => {
  const table = new Int16Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    const sign = u & 0x80;
    const exponent = (u >> 4) & 0x07;
    const mantissa = u & 0x0f;
    const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    table[i] = sign ? -magnitude : magnitude;
  }
  return table;
})();

export function encodeMulawSample(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** One μ-law byte as a 16-bit sample. */
export function decodeMulawSample(byte: number): number {
  return DECODE_TABLE[byte]!;
}

export function decodeMulaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = DECODE_TABLE[bytes[i]!]!;
  return out;
}

export function encodeMulaw(samples: Int16Array): Buffer {
  const out = Buffer.allocUnsafe(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = encodeMulawSample(samples[i]!);
  return out;
}

/** Root-mean-square level of μ-law audio, in linear 16-bit units (0 = silence). */
export function mulawRms(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = DECODE_TABLE[bytes[i]!]!;
    sum += v * v;
  }
  return end > start ? Math.sqrt(sum / (end - start)) : 0;
}

/** A tone of `ms` milliseconds at `hz` — synthetic "speech" for tests and fixtures. */
export function mulawTone(ms: number, hz = 440, amplitude = 8000): Buffer {
  const n = ms * MULAW_BYTES_PER_MS;
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) samples[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / 8000);
  return encodeMulaw(samples);
}

export function mulawSilence(ms: number): Buffer {
  return Buffer.alloc(ms * MULAW_BYTES_PER_MS, MULAW_SILENCE);
}
