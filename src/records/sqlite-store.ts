import { mkdirSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PRIVATE_DIR, PRIVATE_FILE, privateFile } from '../db/private-files.js';
import { whenNotBusy } from '../db/sqlite.js';
import type { CallRecord } from './call-record.js';
import type { CallFilter, CallStore, CallSummary } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS calls (
  call_sid      TEXT PRIMARY KEY,
  agent         TEXT NOT NULL,
  started_at    TEXT NOT NULL,
  duration_ms   INTEGER NOT NULL,
  outcome       TEXT NOT NULL,
  code          TEXT,
  reason        TEXT NOT NULL,
  cost_usd      REAL,
  latency_p50   INTEGER,
  simulated     INTEGER NOT NULL,
  audio_file    TEXT,
  record        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_started ON calls (started_at);
`;

/**
 * Call records in SQLite (`calls.db`) with recordings as WAV files beside it (`recordings/`). WAL
 * mode, so the workers of one machine can share it. Recordings are written before their row points
 * at them: a row never names a file that is not there.
 */
export class SqliteCallStore implements CallStore {
  readonly location: string;
  readonly #db: Database.Database;
  readonly #recordings: string;
  readonly #upsert: Database.Statement;

  constructor(dataDir: string) {
    // callers' numbers, words and voices: readable by the service's user only (test 23)
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR });
    this.#recordings = join(dataDir, 'recordings');
    this.location = join(dataDir, 'calls.db');
    this.#db = new Database(this.location);
    privateFile(this.location);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 0'); // a lock is waited for on timers (whenNotBusy), never here
    this.#db.exec(SCHEMA);
    this.#upsert = this.#db.prepare(`
      INSERT INTO calls (call_sid, agent, started_at, duration_ms, outcome, code, reason, cost_usd,
                         latency_p50, simulated, audio_file, record)
      VALUES (@callSid, @agent, @startedAt, @durationMs, @outcome, @code, @reason, @cost,
              @latency, @simulated, @audioFile, @record)
      ON CONFLICT (call_sid) DO UPDATE SET
        duration_ms = excluded.duration_ms, outcome = excluded.outcome, code = excluded.code,
        reason = excluded.reason, cost_usd = excluded.cost_usd, latency_p50 = excluded.latency_p50,
        audio_file = COALESCE(excluded.audio_file, calls.audio_file), record = excluded.record`);
  }

  /**
   * Writes the rows, with their recordings. A recording that cannot be written (disk full, no
   * permission) leaves no partial file and does not keep the rows out: they are written without it,
   * and the failure is thrown afterwards, so the caller tries that record again (reliability test 16).
   */
  async write(batch: { record: CallRecord; wav?: Buffer }[]): Promise<void> {
    const rows: Record<string, unknown>[] = [];
    let audioFailure: unknown;
    for (const { record, wav } of batch) {
      let audioFile: string | null = null;
      if (wav && record.audio) {
        const path = join(this.#recordings, record.audio.file);
        try {
          mkdirSync(this.#recordings, { recursive: true, mode: PRIVATE_DIR });
          await writeFile(path, wav, { mode: PRIVATE_FILE });
          audioFile = record.audio.file;
        } catch (error) {
          audioFailure ??= error;
          await rm(path, { force: true }).catch(() => undefined);
        }
      }
      rows.push({
        callSid: record.callSid,
        agent: record.agent.name,
        startedAt: record.startedAt,
        durationMs: record.durationMs,
        outcome: record.outcome.kind,
        code: 'code' in record.outcome ? record.outcome.code : null,
        reason: record.outcome.reason,
        cost: record.cost.total ?? null,
        latency: record.latency.p50Ms ?? null,
        simulated: record.simulated ? 1 : 0,
        audioFile,
        record: JSON.stringify(record),
      });
    }
    const upsertAll = this.#db.transaction(() => {
      for (const row of rows) this.#upsert.run(row);
    });
    await whenNotBusy(() => upsertAll());
    if (audioFailure) throw audioFailure;
  }

  async list(filter: CallFilter = {}): Promise<CallSummary[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit ?? 100 };
    if (filter.since) {
      where.push('started_at >= @since');
      params.since = filter.since.toISOString();
    }
    if (filter.outcome) {
      where.push('outcome = @outcome');
      params.outcome = filter.outcome;
    }
    const rows = this.#db
      .prepare(
        `SELECT record, audio_file FROM calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY started_at DESC LIMIT @limit`,
      )
      .all(params) as { record: string; audio_file: string | null }[];
    return rows.map((row) => summaryOf(JSON.parse(row.record) as CallRecord, row.audio_file !== null));
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    const row = this.#db.prepare('SELECT record FROM calls WHERE call_sid = ?').get(callSid) as
      | { record: string }
      | undefined;
    return row ? (JSON.parse(row.record) as CallRecord) : undefined;
  }

  async audio(callSid: string): Promise<Buffer | undefined> {
    const row = this.#db.prepare('SELECT audio_file FROM calls WHERE call_sid = ?').get(callSid) as
      | { audio_file: string | null }
      | undefined;
    if (!row?.audio_file) return undefined;
    return readFile(join(this.#recordings, row.audio_file)).catch(() => undefined);
  }

  async prune(before: Date): Promise<number> {
    const old = this.#db
      .prepare('SELECT call_sid, audio_file FROM calls WHERE started_at < ?')
      .all(before.toISOString()) as { call_sid: string; audio_file: string | null }[];
    for (const row of old)
      if (row.audio_file) await rm(join(this.#recordings, row.audio_file), { force: true });
    this.#db.prepare('DELETE FROM calls WHERE started_at < ?').run(before.toISOString());
    return old.length;
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

export function summaryOf(record: CallRecord, hasAudio: boolean): CallSummary {
  return {
    callSid: record.callSid,
    agent: record.agent.name,
    ...(record.from ? { from: record.from } : {}),
    ...(record.to ? { to: record.to } : {}),
    startedAt: record.startedAt,
    durationMs: record.durationMs,
    outcome: record.outcome.kind,
    ...('code' in record.outcome ? { code: record.outcome.code } : {}),
    reason: record.outcome.reason,
    tools: [...new Set(record.toolCalls.map((t) => t.name))],
    ...(record.cost.total === undefined ? {} : { costUsd: record.cost.total }),
    ...(record.latency.p50Ms === undefined ? {} : { latencyP50Ms: record.latency.p50Ms }),
    simulated: record.simulated,
    hasAudio,
  };
}
