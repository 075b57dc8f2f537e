import type { RealtimeConnection } from '../realtime/openai/connection.js';
import { INACTIVITY_SILENCE_MS, INPUT_INACTIVITY_MS, silenceBase64 } from './silence.js';

/** Twilio's frame interval: a larger jump in media timestamps is a gap to fill with silence. */
const FRAME_INTERVAL_MS = 20;

/**
 * Caller audio → Realtime. Payloads go through untouched. Some calls send no frames during silence,
 * so gaps in Twilio's media timestamps are filled with μ-law silence, and while the caller is
 * speaking a line that goes quiet for 750 ms gets 1 s of silence: server VAD can then end the turn.
 */
export class CallerInput {
  readonly #realtime: RealtimeConnection;
  #lastTimestampMs: number | undefined;
  #speaking = false;
  #inactivity: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(realtime: RealtimeConnection) {
    this.#realtime = realtime;
  }

  get speaking(): boolean {
    return this.#speaking;
  }

  /** One Twilio `media` frame (hot path). */
  frame(payload: string, timestampMs: number): void {
    const last = this.#lastTimestampMs;
    if (last !== undefined && timestampMs - last > FRAME_INTERVAL_MS * 2) {
      const gap = silenceBase64(timestampMs - last - FRAME_INTERVAL_MS);
      if (gap) this.#realtime.appendAudio(gap);
    }
    this.#lastTimestampMs = timestampMs;
    this.#realtime.appendAudio(payload);
    if (this.#speaking) this.#armInactivity();
  }

  speechStarted(): void {
    this.#speaking = true;
    this.#armInactivity();
  }

  speechStopped(): void {
    this.#speaking = false;
    clearTimeout(this.#inactivity);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#inactivity);
  }

  #armInactivity(): void {
    clearTimeout(this.#inactivity);
    this.#inactivity = setTimeout(() => {
      if (!this.#closed && this.#speaking) this.#realtime.appendAudio(silenceBase64(INACTIVITY_SILENCE_MS));
    }, INPUT_INACTIVITY_MS);
    this.#inactivity.unref();
  }
}
