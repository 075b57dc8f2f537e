import { base64ByteLength } from '../audio/base64.js';
import { MULAW_BYTES_PER_MS, MULAW_SILENCE } from '../audio/mulaw.js';
import { mulawToStereoWav } from '../audio/wav.js';
import type { CallAudioTap } from '../bridge/ports.js';

/** A μ-law track on the call's timeline: byte i is at i/8 ms. Grows in steps; unwritten = silence. */
class Track {
  #buf = Buffer.alloc(0);
  /** Bytes that hold audio (the rest of the buffer is spare capacity). */
  length = 0;

  /** Writes base64 μ-law at `offset` straight into the track (no intermediate buffer). */
  write(base64: string, offset: number, bytes: number): void {
    this.#reserve(offset + bytes);
    if (offset > this.length) this.#buf.fill(MULAW_SILENCE, this.length, offset);
    this.#buf.write(base64, offset, bytes, 'base64');
    this.length = Math.max(this.length, offset + bytes);
  }

  /** Forgets everything from `offset` on (audio that was cleared before it played). */
  cut(offset: number): void {
    if (offset < this.length) this.length = Math.max(0, offset);
  }

  bytes(): Buffer {
    return this.#buf.subarray(0, this.length);
  }

  #reserve(size: number): void {
    if (size <= this.#buf.length) return;
    // a minute at a time, then doubling: a long call costs few copies
    const next = Buffer.allocUnsafe(Math.max(size, this.#buf.length * 2, 60_000 * MULAW_BYTES_PER_MS));
    this.#buf.copy(next, 0, 0, this.length);
    this.#buf = next;
  }
}

/** Upper bound on what one call records: the longest call the agent file allows (4 h). */
const MAX_BYTES = 4 * 3_600_000 * MULAW_BYTES_PER_MS;

/**
 * Records a call as the caller heard it, from the frames on the wire (no model calls): the caller's
 * frames at their stream timestamps, and the agent's audio where it played — Twilio plays what we send
 * after whatever is still queued, and a `clear` (barge-in) drops what had not played yet.
 */
export class AudioRecorder implements CallAudioTap {
  readonly #caller = new Track();
  readonly #agent = new Track();
  /** Where the agent's queued audio ends (byte offset): the next chunk plays from there. */
  #agentCursor = 0;

  caller(payload: string, timestampMs: number): void {
    const offset = Math.max(0, Math.round(timestampMs) * MULAW_BYTES_PER_MS);
    const bytes = base64ByteLength(payload);
    if (offset + bytes <= MAX_BYTES) this.#caller.write(payload, offset, bytes);
  }

  agent(payload: string, atMs: number): void {
    const offset = Math.max(this.#agentCursor, Math.round(atMs) * MULAW_BYTES_PER_MS);
    const bytes = base64ByteLength(payload);
    if (offset + bytes > MAX_BYTES) return;
    this.#agent.write(payload, offset, bytes);
    this.#agentCursor = offset + bytes;
  }

  cleared(atMs: number): void {
    const offset = Math.round(atMs) * MULAW_BYTES_PER_MS;
    this.#agent.cut(offset);
    this.#agentCursor = Math.min(this.#agentCursor, offset);
  }

  /** Length of the recording (ms): the longer of the two sides. */
  get durationMs(): number {
    return Math.max(this.#caller.length, this.#agent.length) / MULAW_BYTES_PER_MS;
  }

  /** The caller's μ-law between two call times (for exporting a turn). */
  callerSlice(startMs: number, endMs: number): Buffer {
    const bytes = this.#caller.bytes();
    return Buffer.from(
      bytes.subarray(Math.max(0, startMs * MULAW_BYTES_PER_MS), Math.max(0, endMs * MULAW_BYTES_PER_MS)),
    );
  }

  /** A stereo WAV: caller on the left channel, agent on the right. */
  toWav(): Buffer {
    return mulawToStereoWav(this.#caller.bytes(), this.#agent.bytes());
  }
}
