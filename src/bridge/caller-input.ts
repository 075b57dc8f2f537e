import type { SilencePadding } from './ports.js';
import { silenceBase64 } from './silence.js';

/** Twilio's frame interval: a larger jump in media timestamps is a gap to fill with silence. */
const FRAME_INTERVAL_MS = 20;

/** Where caller audio goes (the model session). */
export interface AudioSink {
  appendAudio(base64: string): void;
}

export interface CallerInputOptions {
  sink: AudioSink;
  /** Monotonic milliseconds. */
  now(): number;
  /** Runs a timer callback inside the call's fault boundary. */
  guard(what: string, fn: () => void): void;
  /** The model's need for silence after its caller's line goes quiet (its VAD); none without. */
  padding?: SilencePadding;
}

/**
 * Caller audio → model. Payloads go through untouched. Some calls send no frames during silence,
 * so gaps in Twilio's media timestamps are filled with μ-law silence, and, when the model asks for
 * it (`padding`), a line that goes quiet while the caller is speaking gets silence too, so the
 * model's voice-activity detection can end the turn.
 *
 * Silence is never more than the time that really passed: a gap is bounded by the wall-clock time
 * since the previous frame (a stream with forged or jumping timestamps cannot make us send hours of
 * audio), and silence already fed by the inactivity pad is not fed again when frames resume.
 */
export class CallerInput {
  readonly #o: CallerInputOptions;
  /** The options read for every frame, held here: one object less to read (the frame path runs cold). */
  readonly #sink: AudioSink;
  readonly #now: () => number;
  #lastTimestampMs: number | undefined;
  #lastFrameAt = 0;
  /** Silence already fed since the last frame (inactivity pad). */
  #paddedMs = 0;
  #speaking = false;
  #inactivity: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: CallerInputOptions) {
    this.#o = options;
    this.#sink = options.sink;
    this.#now = options.now;
  }

  get speaking(): boolean {
    return this.#speaking;
  }

  /** When the latest caller frame arrived (monotonic ms), if any has. */
  get lastFrameAt(): number | undefined {
    return this.#lastTimestampMs === undefined ? undefined : this.#lastFrameAt;
  }

  /** One Twilio `media` frame (hot path). */
  frame(payload: string, timestampMs: number): void {
    const now = this.#now();
    const last = this.#lastTimestampMs;
    if (last !== undefined) {
      const gapMs = Math.min(timestampMs - last, now - this.#lastFrameAt) - FRAME_INTERVAL_MS;
      const fillMs = gapMs - this.#paddedMs;
      if (gapMs > FRAME_INTERVAL_MS && fillMs > 0) {
        const gap = silenceBase64(fillMs);
        if (gap) this.#sink.appendAudio(gap);
      }
    }
    this.#lastTimestampMs = timestampMs;
    this.#lastFrameAt = now;
    this.#paddedMs = 0;
    this.#sink.appendAudio(payload);
    // refresh() re-arms the same timer: no allocation per frame
    if (this.#speaking && this.#o.padding) {
      this.#inactivity ??= this.#armInactivity();
      this.#inactivity.refresh();
    }
  }

  speechStarted(): void {
    this.#speaking = true;
    if (!this.#o.padding) return;
    this.#inactivity ??= this.#armInactivity();
    this.#inactivity.refresh();
  }

  speechStopped(): void {
    this.#speaking = false;
    clearTimeout(this.#inactivity);
    this.#inactivity = undefined;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#inactivity);
  }

  #armInactivity(): NodeJS.Timeout {
    const { quietMs, padMs } = this.#o.padding!;
    const timer = setTimeout(
      () =>
        this.#o.guard('the caller-silence timer', () => {
          this.#inactivity = undefined;
          if (this.#closed || !this.#speaking) return;
          this.#paddedMs += padMs;
          this.#sink.appendAudio(silenceBase64(padMs));
        }),
      quietMs,
    );
    timer.unref();
    return timer;
  }
}
