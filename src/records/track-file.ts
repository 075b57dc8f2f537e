import { close, ftruncate, open, read, rm, write } from 'node:fs';
import { MULAW_SILENCE } from '../audio/mulaw.js';
import { PRIVATE_FILE } from '../db/private-files.js';

/** Audio kept in memory before it is written out: half a second of μ-law. */
const FLUSH_BYTES = 4_000;
/** A window's size: what waits plus room for one more chunk (a model's audio delta can be a few KB). */
const WINDOW_BYTES = 8_192;
/** Silence to fill a track's gaps from (never written to: the file system only reads it). */
const SILENCE = Buffer.alloc(WINDOW_BYTES, MULAW_SILENCE);

/** One step of a track's file, run in order: bytes at a position, or a cut. */
type Step =
  | { kind: 'write'; data: Buffer; length: number; position: number; reuse: boolean }
  | { kind: 'truncate'; length: number };

/**
 * One μ-law track of a call, written to a file as the call goes: byte i is at i/8 ms, gaps are
 * silence. Only a window of about half a second is in memory (two buffers, taking turns while one is
 * being written), so a call's memory does not grow with its length and recording costs the media path
 * no allocation (reliability test 1b). Steps go to the file in order, one at a time, through the
 * callback `fs` API (the cheapest); the first that fails stops the track (`failure`), never the call.
 */
export class TrackFile {
  readonly path: string;
  #fd: number | undefined;
  readonly #steps: Step[] = [];
  #running = false;
  #idle: (() => void)[] = [];
  #failure: unknown;
  /** Audio at `#start`… not yet written (allocated on first use). */
  #window: Buffer | undefined;
  /** A window written out and free again. */
  #spare: Buffer | undefined;
  #start = 0;
  #used = 0;

  constructor(path: string) {
    this.path = path;
  }

  /** Bytes on the track (written out or waiting). */
  get length(): number {
    return this.#start + this.#used;
  }

  /** Why the track stopped being written, if it did. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Writes base64 μ-law at `offset` (a later offset leaves silence between). */
  write(base64: string, offset: number, bytes: number): void {
    if (this.#failure !== undefined) return;
    if (offset < this.#start || bytes > WINDOW_BYTES) {
      // audio for a part already written out (a late frame), or a chunk larger than a window: rare,
      // so it may cost a buffer
      this.#writeOut(offset);
      const data = Buffer.from(base64, 'base64');
      this.#push({
        kind: 'write',
        data,
        length: Math.min(bytes, data.length),
        position: offset,
        reuse: false,
      });
      this.#start = Math.max(this.#start, offset + bytes);
      return;
    }
    if (offset + bytes - this.#start > WINDOW_BYTES) this.#writeOut(offset);
    this.#window ??= this.#spare ?? Buffer.allocUnsafeSlow(WINDOW_BYTES);
    if (this.#window === this.#spare) this.#spare = undefined;
    const at = offset - this.#start;
    if (at > this.#used) this.#window.fill(MULAW_SILENCE, this.#used, at);
    this.#window.write(base64, at, bytes, 'base64');
    this.#used = Math.max(this.#used, at + bytes);
    if (this.#used >= FLUSH_BYTES) this.#writeOut(this.length);
  }

  /** Forgets the track from `offset` on (agent audio cleared before it played). */
  cut(offset: number): void {
    if (offset >= this.length) return;
    if (offset >= this.#start) {
      this.#used = offset - this.#start;
      return;
    }
    this.#used = 0;
    this.#start = Math.max(0, offset);
    this.#push({ kind: 'truncate', length: this.#start });
  }

  /** Writes out everything waiting; resolves when the file holds the whole track. */
  settled(): Promise<void> {
    this.#writeOut(this.length);
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Reads `bytes` of the track at `offset` into `into` (silence past its end); after {@link settled}. */
  async read(into: Buffer, offset: number, bytes: number): Promise<void> {
    const end = Math.min(bytes, Math.max(0, this.length - offset));
    let got = 0;
    const fd = this.#fd;
    while (fd !== undefined && got < end) {
      const n = await new Promise<number>((resolve, reject) =>
        read(fd, into, got, end - got, offset + got, (error, bytesRead) =>
          error ? reject(error) : resolve(bytesRead),
        ),
      );
      if (n === 0) break;
      got += n;
    }
    into.fill(MULAW_SILENCE, got, bytes);
  }

  /** Closes and deletes the file. */
  async discard(): Promise<void> {
    this.#failure ??= 'discarded';
    this.#steps.length = 0;
    if (this.#running) await new Promise<void>((resolve) => this.#idle.push(resolve));
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) await new Promise((resolve) => close(fd, resolve));
    await new Promise((resolve) => rm(this.path, { force: true }, resolve));
  }

  /** Queues the window's audio, then silence up to `until`; the window then starts at `until`. */
  #writeOut(until: number): void {
    const window = this.#window;
    const used = this.#used;
    const start = this.#start;
    if (window && used > 0) {
      this.#window = undefined; // the step owns it until written, then it is the spare
      this.#push({ kind: 'write', data: window, length: used, position: start, reuse: true });
    }
    for (let at = start + used; at < until; at += WINDOW_BYTES)
      this.#push({
        kind: 'write',
        data: SILENCE,
        length: Math.min(WINDOW_BYTES, until - at),
        position: at,
        reuse: false,
      });
    this.#start = Math.max(until, start + used);
    this.#used = 0;
  }

  #push(step: Step): void {
    if (this.#failure !== undefined) return;
    this.#steps.push(step);
    if (!this.#running) {
      this.#running = true;
      this.#next();
    }
  }

  /** Runs the first step; each step's callback starts the next (one file operation at a time). */
  #next(): void {
    const step = this.#steps[0];
    if (!step || this.#failure !== undefined) {
      this.#steps.length = 0;
      this.#running = false;
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    if (this.#fd === undefined) {
      open(this.path, 'w+', PRIVATE_FILE, (error, fd) => {
        if (error) this.#failure ??= error;
        else this.#fd = fd;
        this.#next();
      });
      return;
    }
    const done = (error: NodeJS.ErrnoException | null) => {
      this.#steps.shift();
      if (error) this.#failure ??= error;
      else if (step.kind === 'write' && step.reuse && this.#spare === undefined) this.#spare = step.data;
      this.#next();
    };
    if (step.kind === 'write') write(this.#fd, step.data, 0, step.length, step.position, done);
    else ftruncate(this.#fd, step.length, done);
  }
}
