import { MULAW_BYTES_PER_MS } from '../../audio/mulaw.js';

/**
 * Plays the agent's audio the way a phone does: in order, in real time (scaled by `speed`), and
 * tells when each mark is reached. `clear` drops what is queued and returns every pending mark.
 * Keeps what was actually heard, placed on the call timeline, for the report and the WAV output.
 */
export interface HeardSegment {
  /** Call time (ms) at which this audio started playing. */
  atMs: number;
  audio: Buffer;
}

export class PlaybackClock {
  readonly segments: HeardSegment[] = [];
  readonly #speed: number;
  readonly #now: () => number;
  readonly #onMark: (name: string) => void;
  /** Call time at which the queued audio finishes. */
  #endsAtMs = 0;
  #pending: { name: string; atMs: number; timer: NodeJS.Timeout }[] = [];

  /** `now` returns call time in ms (wall time × speed). */
  constructor(options: { speed: number; now: () => number; onMark: (name: string) => void }) {
    this.#speed = options.speed;
    this.#now = options.now;
    this.#onMark = options.onMark;
  }

  /** Audio received from the server. */
  enqueue(audio: Buffer): void {
    const start = Math.max(this.#now(), this.#endsAtMs);
    this.segments.push({ atMs: start, audio });
    this.#endsAtMs = start + audio.length / MULAW_BYTES_PER_MS;
  }

  /** A mark: echoed when the audio queued before it has played (at once if nothing is queued). */
  mark(name: string): void {
    const atMs = Math.max(this.#now(), this.#endsAtMs);
    const delay = Math.max(0, (atMs - this.#now()) / this.#speed);
    const timer = setTimeout(() => {
      this.#pending = this.#pending.filter((p) => p.timer !== timer);
      this.#onMark(name);
    }, delay);
    this.#pending.push({ name, atMs, timer });
  }

  /** `clear`: stop now, drop the unplayed audio, return every pending mark. */
  clear(): void {
    const now = this.#now();
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) clearTimeout(p.timer);
    this.#cutAt(now);
    this.#endsAtMs = now;
    for (const p of pending) this.#onMark(p.name);
  }

  /** Audio still queued or playing. */
  get playing(): boolean {
    return this.#endsAtMs > this.#now();
  }

  /** Call time when the queued audio will have played. */
  get endsAtMs(): number {
    return this.#endsAtMs;
  }

  /** Total agent audio heard so far (ms). */
  heardMs(now = this.#now()): number {
    let total = 0;
    for (const s of this.segments) {
      const len = s.audio.length / MULAW_BYTES_PER_MS;
      total += Math.max(0, Math.min(len, now - s.atMs));
    }
    return total;
  }

  stop(): void {
    for (const p of this.#pending) clearTimeout(p.timer);
    this.#pending = [];
    this.#cutAt(this.#now());
  }

  #cutAt(now: number): void {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const s = this.segments[i]!;
      if (s.atMs >= now) {
        this.segments.splice(i, 1);
        continue;
      }
      const played = Math.floor((now - s.atMs) * MULAW_BYTES_PER_MS);
      if (played < s.audio.length) s.audio = s.audio.subarray(0, played);
      break;
    }
  }
}
