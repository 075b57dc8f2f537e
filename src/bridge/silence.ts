import { MULAW_BYTES_PER_MS } from '../audio/mulaw.js';

/**
 * μ-law silence for the model's input when Twilio stops sending frames (some calls send nothing
 * during silence), so server VAD can still see the end of the caller's turn.
 *
 * Base64 of 0xFF bytes is "////" per 3 bytes, so any multiple of 3 bytes is a slice of one
 * precomputed string: no per-gap allocation or encoding.
 */

/** The most silence fed for one gap. */
export const MAX_SILENCE_FILL_MS = 10_000;

const SILENCE_BASE64 = '////'.repeat((MAX_SILENCE_FILL_MS * MULAW_BYTES_PER_MS) / 3 + 1);

/** Base64 μ-law silence of about `ms` milliseconds (rounded down to whole 3-byte groups). */
export function silenceBase64(ms: number): string {
  const bytes = Math.min(ms, MAX_SILENCE_FILL_MS) * MULAW_BYTES_PER_MS;
  return SILENCE_BASE64.slice(0, Math.floor(bytes / 3) * 4);
}
