import { encodeMulawSample, MULAW_BYTES_PER_MS } from './mulaw.js';

/**
 * A clearly synthetic, voice-like sound of a given length, as μ-law 8 kHz: a buzzy vowel (a few
 * harmonics of a gliding pitch) in syllables of about 180 ms with short gaps and a longer pause every
 * few syllables, like speech without words. The local model speaks with it, so a listener hears
 * that the agent talked and for how long, and energy-based checks see speech where there was some.
 */
export function synthVoice(ms: number, seed = 0): Buffer {
  const n = Math.max(0, Math.round(ms)) * MULAW_BYTES_PER_MS;
  const out = Buffer.alloc(n);
  const rate = 8000;
  const base = 115 + (seed % 4) * 20; // a different "speaker" per seed
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const syllable = Math.floor(t / 0.22);
    const within = t - syllable * 0.22;
    const pause = syllable % 5 === 4; // a word break now and then
    // attack and release of each syllable; silence in its last 40 ms and in pauses
    const envelope = pause || within > 0.18 ? 0 : Math.min(1, within / 0.03, (0.18 - within) / 0.05);
    const pitch = base * (1 + 0.15 * Math.sin(2 * Math.PI * 0.7 * t + seed));
    phase += (2 * Math.PI * pitch) / rate;
    const buzz =
      Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.3 * Math.sin(3 * phase) + 0.2 * Math.sin(5 * phase);
    out[i] = encodeMulawSample(Math.round(envelope * buzz * 5000));
  }
  return out;
}
