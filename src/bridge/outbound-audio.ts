import { base64ByteLength } from '../audio/base64.js';
import type { PlaybackTracker } from './playback.js';
import type { CallAudioTap, MediaStreamPort } from './ports.js';

/**
 * Model audio → Twilio. Deltas of at least one frame (20 ms) are forwarded untouched — the base64
 * string from OpenAI goes straight into the Twilio frame, no decode or re-encode. Smaller deltas are
 * merged until they make a frame, because tiny irregular chunks are a known cause of jitter at word
 * starts. A named mark follows every 500 ms of an item and its end, so playback can be tracked.
 */
export const MIN_OUTBOUND_CHUNK_BYTES = 160;

export class OutboundAudio {
  readonly #media: MediaStreamPort;
  readonly #playback: PlaybackTracker;
  readonly #now: () => number;
  #small: Buffer[] = [];
  #smallBytes = 0;
  #smallItem: string | undefined;
  readonly #tap: CallAudioTap | undefined;
  /** When model audio was last forwarded, or dropped for a stalled reader (monotonic ms; -∞: never). */
  #lastAudioAt = Number.NEGATIVE_INFINITY;

  constructor(media: MediaStreamPort, playback: PlaybackTracker, now: () => number, tap?: CallAudioTap) {
    this.#media = media;
    this.#playback = playback;
    this.#now = now;
    this.#tap = tap;
  }

  delta(responseId: string, itemId: string, contentIndex: number, base64: string): void {
    const bytes = base64ByteLength(base64);
    if (this.#smallItem !== undefined && this.#smallItem !== itemId) this.flush();
    this.#playback.received(responseId, itemId, contentIndex, bytes);
    if (this.#smallBytes === 0 && bytes >= MIN_OUTBOUND_CHUNK_BYTES) {
      this.#forward(itemId, base64, bytes);
      return;
    }
    this.#small.push(Buffer.from(base64, 'base64'));
    this.#smallBytes += bytes;
    this.#smallItem = itemId;
    if (this.#smallBytes >= MIN_OUTBOUND_CHUNK_BYTES) this.flush();
  }

  /** Sends whatever small audio is waiting, and a mark after all that was sent (end of an item). */
  flush(): void {
    const itemId = this.#smallItem;
    if (itemId !== undefined && this.#smallBytes > 0) {
      const merged = Buffer.concat(this.#small, this.#smallBytes);
      this.drop();
      this.#forward(itemId, merged.toString('base64'), merged.length);
    }
    this.#markTail();
  }

  /** Forgets waiting audio (barge-in). */
  drop(): void {
    this.#small = [];
    this.#smallBytes = 0;
    this.#smallItem = undefined;
  }

  get buffering(): boolean {
    return this.#smallBytes > 0;
  }

  get lastAudioAt(): number {
    return this.#lastAudioAt;
  }

  #forward(itemId: string, base64: string, bytes: number): void {
    // the previous item's last audio gets its mark before this item's first
    if (this.#playback.unmarkedItemId !== undefined && this.#playback.unmarkedItemId !== itemId)
      this.#markTail();
    const now = this.#now();
    this.#lastAudioAt = now;
    // audio dropped for a stalled reader is not playing: no mark, nothing counted as sent
    if (!this.#media.sendMedia(base64)) return;
    this.#tap?.agent(base64, now);
    const mark = this.#playback.sent(itemId, bytes, now);
    if (mark !== undefined) this.#media.sendMark(mark);
  }

  #markTail(): void {
    const mark = this.#playback.markTail();
    if (mark !== undefined) this.#media.sendMark(mark);
  }
}
