import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { base64ByteLength } from '../audio/base64.js';
import { MULAW_BYTES_PER_MS } from '../audio/mulaw.js';
import { interleaveMulaw, pcmWavHeader } from '../audio/wav.js';
import type { CallAudioTap } from '../bridge/ports.js';
import { PRIVATE_FILE } from '../db/private-files.js';
import { TrackFile } from './track-file.js';

/** Upper bound on what one call records: the longest call the agent file allows (4 h). */
const MAX_BYTES = 4 * 3_600_000 * MULAW_BYTES_PER_MS;
/** The WAV is built a second of audio at a time, yielding between (the event loop is never held). */
const CHUNK_FRAMES = 8_000;

/**
 * Records a call as the caller heard it, from the frames on the wire (no model calls): the caller's
 * frames at their stream timestamps, and the agent's audio where it played — Twilio plays what we send
 * after whatever is still queued, and a `clear` (barge-in) drops what had not played yet. Each side
 * goes to its own file in `dir` as the call goes ({@link TrackFile}); the stereo WAV is made from them
 * when asked, in chunks.
 */
export class AudioRecorder implements CallAudioTap {
  readonly #caller: TrackFile;
  readonly #agent: TrackFile;
  /** Where the agent's queued audio ends (byte offset): the next chunk plays from there. */
  #agentCursor = 0;

  /** Track files go to `dir`, named after `name` (the call). */
  constructor(dir: string, name: string) {
    this.#caller = new TrackFile(join(dir, `${name}.caller.ulaw`));
    this.#agent = new TrackFile(join(dir, `${name}.agent.ulaw`));
  }

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

  /**
   * Writes the recording so far to `path` as a stereo WAV (caller left, agent right); resolves with
   * its length (ms), or undefined when there is no audio. Throws when a track could not be written
   * (a full disk): the recording is then incomplete and not kept. The tracks stay, so a call that
   * goes on (a transfer nobody answered) can be written again later, longer.
   */
  async writeWav(path: string): Promise<number | undefined> {
    await Promise.all([this.#caller.settled(), this.#agent.settled()]);
    for (const track of [this.#caller, this.#agent]) if (track.failure !== undefined) throw track.failure;
    const frames = Math.max(this.#caller.length, this.#agent.length);
    if (frames === 0) return undefined;
    const left = Buffer.allocUnsafe(CHUNK_FRAMES);
    const right = Buffer.allocUnsafe(CHUNK_FRAMES);
    const pcm = Buffer.allocUnsafe(CHUNK_FRAMES * 4);
    const file = await open(path, 'w', PRIVATE_FILE);
    try {
      await file.write(pcmWavHeader(frames, 2));
      for (let at = 0; at < frames; at += CHUNK_FRAMES) {
        const n = Math.min(CHUNK_FRAMES, frames - at);
        await Promise.all([this.#caller.read(left, at, n), this.#agent.read(right, at, n)]);
        interleaveMulaw(left, right, n, pcm);
        await file.write(pcm, 0, n * 4);
      }
    } finally {
      await file.close();
    }
    return frames / MULAW_BYTES_PER_MS;
  }

  /** Deletes the track files (the call's recording is written, or will not be). */
  async discard(): Promise<void> {
    await Promise.all([this.#caller.discard(), this.#agent.discard()]);
  }
}
