import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { CallRecord } from './call-record.js';
import type { CallFilter, CallStore, CallSummary, RecordWrite, StoredAudio } from './store.js';
import { isAfter, summaryOf } from './summary.js';

/** Records kept in memory only: for a simulated call's report when records are off, and tests. */
export class MemoryCallStore implements CallStore {
  readonly location = 'memory';
  readonly workDir = scratchRecordingsDir();
  readonly #records = new Map<string, { record: CallRecord; wav?: Buffer }>();

  async write(batch: RecordWrite[]): Promise<void> {
    for (const { record, wav } of batch) {
      const known = this.#records.get(record.callSid);
      const audio = wav ? await readFile(wav) : known?.wav;
      if (wav) await rm(wav, { force: true });
      this.#records.set(record.callSid, { record, ...(audio ? { wav: audio } : {}) });
    }
  }

  async list(filter: CallFilter = {}): Promise<CallSummary[]> {
    return [...this.#records.values()]
      .filter(({ record }) => !filter.since || new Date(record.startedAt) >= filter.since)
      .filter(({ record }) => !filter.outcome || record.outcome.kind === filter.outcome)
      .filter(({ record }) => isAfter(record, filter.after))
      .sort(
        (a, b) =>
          b.record.startedAt.localeCompare(a.record.startedAt) ||
          b.record.callSid.localeCompare(a.record.callSid),
      )
      .slice(0, filter.limit ?? 100)
      .map(({ record, wav }) => summaryOf(record, wav !== undefined));
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    return this.#records.get(callSid)?.record;
  }

  async audio(callSid: string): Promise<StoredAudio | undefined> {
    const wav = this.#records.get(callSid)?.wav;
    if (!wav) return undefined;
    return {
      bytes: wav.length,
      stream: (start = 0, end = wav.length - 1) => Readable.from([wav.subarray(start, end + 1)]),
    };
  }

  async prune(before: Date): Promise<number> {
    let n = 0;
    for (const [sid, { record }] of this.#records)
      if (new Date(record.startedAt) < before) {
        this.#records.delete(sid);
        n++;
      }
    return n;
  }

  async close(): Promise<void> {}
}

/**
 * Where a store without files of its own (memory, PostgreSQL) has recordings made: the system's
 * temporary directory, one folder per user.
 */
export function scratchRecordingsDir(): string {
  return join(tmpdir(), `voice-agent-recordings-${process.getuid?.() ?? 'user'}`);
}
