import type { Readable } from 'node:stream';
import type { CallRecord } from './call-record.js';

/** How a recorded call can stand: ended (completed, transfer, failed) or still live. */
export const CALL_OUTCOMES = ['completed', 'transfer', 'failed', 'in_progress'] as const;

/** One line of `calls list`. */
export interface CallSummary {
  callSid: string;
  agent: string;
  from?: string;
  to?: string;
  startedAt: string;
  durationMs: number;
  outcome: CallRecord['outcome']['kind'];
  /** The failure code, for failed calls. */
  code?: string;
  reason: string;
  tools: string[];
  costUsd?: number;
  latencyP50Ms?: number;
  simulated: boolean;
  hasAudio: boolean;
}

export interface CallFilter {
  /** Calls that started at or after this time. */
  since?: Date;
  outcome?: CallSummary['outcome'];
  /** Newest first; at most this many (default 100). */
  limit?: number;
  /** The next page: calls listed after this one (the last of the previous page). */
  after?: Pick<CallSummary, 'startedAt' | 'callSid'>;
}

/** A kept recording (a stereo WAV), read as a stream: never held in memory whole. */
export interface StoredAudio {
  /** Its size in bytes. */
  readonly bytes: number;
  /** Its bytes from `start` to `end` (inclusive; default: all of it). */
  stream(start?: number, end?: number): Readable;
}

/** One record to write, with the WAV file of its recording (the store moves or copies it in). */
export interface RecordWrite {
  record: CallRecord;
  /** Path of a finished WAV file; once written, the store no longer needs it there. */
  wav?: string;
}

/**
 * Where call records live. SQLite under the data directory is the embedded default; a server
 * database can implement the same interface. Every method may fail (a full disk, a read-only
 * directory): callers on a call's path catch and log, never let it reach the call.
 */
export interface CallStore {
  /** Where it keeps things, for people (`/var/lib/voice-agent/calls.db`). */
  readonly location: string;
  /**
   * A directory for recordings being made (on the same file system as the store's own files, when it
   * keeps any, so a finished one is moved in rather than copied).
   */
  readonly workDir: string;
  /** Writes records (new or updated) and recordings, as one batch. */
  write(batch: RecordWrite[]): Promise<void>;
  list(filter?: CallFilter): Promise<CallSummary[]>;
  get(callSid: string): Promise<CallRecord | undefined>;
  /** The call's recording (stereo WAV), if one was kept. */
  audio(callSid: string): Promise<StoredAudio | undefined>;
  /** Deletes records (and recordings) of calls that started before `before`; returns how many. */
  prune(before: Date): Promise<number>;
  close(): Promise<void>;
}

/** A recording read whole (for `calls export` and a simulated call's report). */
export async function readAudio(audio: StoredAudio | undefined): Promise<Buffer | undefined> {
  if (!audio) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of audio.stream()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
