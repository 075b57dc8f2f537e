import { FRAME_BYTES, MULAW_BYTES_PER_MS, mulawRms } from './mulaw.js';

/** 20 ms frames louder than this count as speech (μ-law RMS; line noise stays well below). */
const SPEECH_RMS = 300;

/**
 * Where someone speaks in a μ-law recording, by energy: runs of loud 20 ms frames, joined across
 * pauses shorter than `joinMs` (a breath between words is not a new turn). Clock-free: it works on
 * the audio itself, whatever speed it was recorded at.
 */
export function speechSegments(audio: Uint8Array, joinMs = 800): { startMs: number; endMs: number }[] {
  const segments: { startMs: number; endMs: number }[] = [];
  const frameMs = FRAME_BYTES / MULAW_BYTES_PER_MS;
  for (let at = 0; at + FRAME_BYTES <= audio.length; at += FRAME_BYTES) {
    if (mulawRms(audio, at, at + FRAME_BYTES) <= SPEECH_RMS) continue;
    const startMs = at / MULAW_BYTES_PER_MS;
    const last = segments.at(-1);
    if (last && startMs - last.endMs <= joinMs) last.endMs = startMs + frameMs;
    else segments.push({ startMs, endMs: startMs + frameMs });
  }
  return segments;
}
