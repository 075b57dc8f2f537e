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
}

/**
 * Where call records live. SQLite under the data directory is the embedded default; a server
 * database can implement the same interface. Every method may fail (a full disk, a read-only
 * directory): callers on a call's path catch and log, never let it reach the call.
 */
export interface CallStore {
  /** Where it keeps things, for people (`/var/lib/voice-agent/calls.db`). */
  readonly location: string;
  /** Writes records (new or updated) and recordings, as one batch. */
  write(batch: { record: CallRecord; wav?: Buffer }[]): Promise<void>;
  list(filter?: CallFilter): Promise<CallSummary[]>;
  get(callSid: string): Promise<CallRecord | undefined>;
  /** The call's recording (stereo WAV), if one was kept. */
  audio(callSid: string): Promise<Buffer | undefined>;
  /** Deletes records (and recordings) of calls that started before `before`; returns how many. */
  prune(before: Date): Promise<number>;
  close(): Promise<void>;
}
