import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE, mulawRms } from './mulaw.js';

/** What the detector reports as the caller's frames go by. */
export type SpeechChange = 'started' | 'stopped' | undefined;

export interface SpeechDetectorOptions {
  /** μ-law RMS above which a 20 ms frame counts as speech (line noise stays well below). */
  threshold: number;
  /** Speech must last this long before it counts (a click or a cough does not cut the agent off). */
  startMs: number;
  /** Silence this long ends the caller's turn. */
  stopMs: number;
}

/**
 * GPT-Live has no speech events (it decides itself when to speak), yet the call core needs to know
 * when the caller starts and stops talking: to cut the agent's queued audio at Twilio (barge-in) and
 * to count the caller's turns (confirmations). This is a small energy detector on the caller's
 * frames, with an onset and a hangover. Allocation-free: each base64 frame is decoded into one
 * reused buffer.
 */
export class SpeechDetector {
  readonly #o: SpeechDetectorOptions;
  readonly #frame = Buffer.alloc(FRAME_BYTES * 4);
  #speaking = false;
  #loudMs = 0;
  #quietMs = 0;

  constructor(options: SpeechDetectorOptions) {
    this.#o = options;
  }

  get speaking(): boolean {
    return this.#speaking;
  }

  /** How long the current run of speech has lasted (ms; gaps under three frames included). */
  get loudMs(): number {
    return this.#loudMs;
  }

  /** One frame of caller audio (base64 μ-law, usually 20 ms). */
  frame(base64: string): SpeechChange {
    const bytes = this.#frame.write(base64, 'base64');
    const ms = (bytes / FRAME_BYTES) * FRAME_MS;
    const loud = mulawRms(this.#frame, 0, bytes) > this.#o.threshold;
    if (loud) {
      this.#loudMs += ms;
      this.#quietMs = 0;
      if (!this.#speaking && this.#loudMs >= this.#o.startMs) {
        this.#speaking = true;
        return 'started';
      }
      return undefined;
    }
    this.#quietMs += ms;
    if (this.#quietMs >= FRAME_MS * 3) this.#loudMs = 0; // an onset needs its frames close together
    if (this.#speaking && this.#quietMs >= this.#o.stopMs) {
      this.#speaking = false;
      return 'stopped';
    }
    return undefined;
  }
}

/** μ-law's two zero levels: 0xFF (+0) and 0x7F (−0). */
const NEGATIVE_ZERO = 0x7f;

/**
 * Whether a base64 μ-law chunk is digital silence (every sample at zero). Decodes into one reused
 * buffer and stops at the first sound, so speech costs a byte or two.
 */
export class SilenceCheck {
  readonly #buf = Buffer.alloc(FRAME_BYTES * 50);

  test(base64: string): boolean {
    const n = this.#buf.write(base64, 'base64');
    for (let i = 0; i < n; i++) {
      const b = this.#buf[i]!;
      if (b !== MULAW_SILENCE && b !== NEGATIVE_ZERO) return false;
    }
    return n > 0;
  }
}
