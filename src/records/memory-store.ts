import type { CallRecord } from './call-record.js';
import { summaryOf } from './sqlite-store.js';
import type { CallFilter, CallStore, CallSummary } from './store.js';

/** Records kept in memory only: for a simulated call's report when records are off, and tests. */
export class MemoryCallStore implements CallStore {
  readonly location = 'memory';
  readonly #records = new Map<string, { record: CallRecord; wav?: Buffer }>();

  async write(batch: { record: CallRecord; wav?: Buffer }[]): Promise<void> {
    for (const { record, wav } of batch) {
      const known = this.#records.get(record.callSid);
      this.#records.set(record.callSid, {
        record,
        ...(wav ? { wav } : known?.wav ? { wav: known.wav } : {}),
      });
    }
  }

  async list(filter: CallFilter = {}): Promise<CallSummary[]> {
    return [...this.#records.values()]
      .filter(({ record }) => !filter.since || new Date(record.startedAt) >= filter.since)
      .filter(({ record }) => !filter.outcome || record.outcome.kind === filter.outcome)
      .sort((a, b) => b.record.startedAt.localeCompare(a.record.startedAt))
      .slice(0, filter.limit ?? 100)
      .map(({ record, wav }) => summaryOf(record, wav !== undefined));
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    return this.#records.get(callSid)?.record;
  }

  async audio(callSid: string): Promise<Buffer | undefined> {
    return this.#records.get(callSid)?.wav;
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
