import { createReadStream, mkdirSync } from 'node:fs';
import { chmod, copyFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PRIVATE_DIR, PRIVATE_FILE, privateFile } from '../db/private-files.js';
import { whenNotBusy } from '../db/sqlite.js';
import type { CallRecord } from './call-record.js';
import type { CallFilter, CallStore, CallSummary, RecordWrite, StoredAudio } from './store.js';
import { pageWhere, summaryOf } from './summary.js';

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
  record        TEXT NOT NULL,
  summary       TEXT
);
CREATE INDEX IF NOT EXISTS calls_started ON calls (started_at);
`;

/**
 * Call records in SQLite (`calls.db`) with recordings as WAV files beside it (`recordings/`). WAL
 * mode, so the workers of one machine can share it. Recordings are moved in before their row points
 * at them: a row never names a file that is not there. Each row keeps its list line (`summary`), so a
 * list never parses whole records (reliability test 12).
 */
export class SqliteCallStore implements CallStore {
  readonly location: string;
  readonly workDir: string;
  readonly #db: Database.Database;
  readonly #recordings: string;
  readonly #upsert: Database.Statement;

  constructor(dataDir: string) {
    // callers' numbers, words and voices: readable by the service's user only (test 23)
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR });
    this.#recordings = join(dataDir, 'recordings');
    this.workDir = join(this.#recordings, '.partial');
    this.location = join(dataDir, 'calls.db');
    this.#db = new Database(this.location);
    privateFile(this.location);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 0'); // a lock is waited for on timers (whenNotBusy), never here
    this.#db.exec(SCHEMA);
    const columns = this.#db.prepare('PRAGMA table_info(calls)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'summary'))
      this.#db.exec('ALTER TABLE calls ADD COLUMN summary TEXT');
    this.#upsert = this.#db.prepare(`
      INSERT INTO calls (call_sid, agent, started_at, duration_ms, outcome, code, reason, cost_usd,
                         latency_p50, simulated, audio_file, record, summary)
      VALUES (@callSid, @agent, @startedAt, @durationMs, @outcome, @code, @reason, @cost,
              @latency, @simulated, @audioFile, @record, @summary)
      ON CONFLICT (call_sid) DO UPDATE SET
        duration_ms = excluded.duration_ms, outcome = excluded.outcome, code = excluded.code,
        reason = excluded.reason, cost_usd = excluded.cost_usd, latency_p50 = excluded.latency_p50,
        audio_file = COALESCE(excluded.audio_file, calls.audio_file), record = excluded.record,
        summary = excluded.summary`);
  }

  /**
   * Writes the rows, with their recordings. A recording that cannot be written (disk full, no
   * permission) leaves no partial file and does not keep the rows out: they are written without it,
   * and the failure is thrown afterwards, so the caller tries that record again (reliability test 16).
   */
  async write(batch: RecordWrite[]): Promise<void> {
    const rows: Record<string, unknown>[] = [];
    let audioFailure: unknown;
    for (const { record, wav } of batch) {
      let audioFile: string | null = null;
      if (wav && record.audio) {
        const path = join(this.#recordings, record.audio.file);
        try {
          mkdirSync(this.#recordings, { recursive: true, mode: PRIVATE_DIR });
          await moveFile(wav, path);
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
        summary: JSON.stringify(summaryOf(record, false)),
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
    if (filter.after) {
      where.push(pageWhere('@afterAt', '@afterSid'));
      params.afterAt = filter.after.startedAt;
      params.afterSid = filter.after.callSid;
    }
    // rows written before the summary column existed are summarised from their record
    const rows = this.#db
      .prepare(
        `SELECT summary, CASE WHEN summary IS NULL THEN record END AS record, audio_file FROM calls
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY started_at DESC, call_sid DESC LIMIT @limit`,
      )
      .all(params) as { summary: string | null; record: string | null; audio_file: string | null }[];
    return rows.map((row) => {
      const hasAudio = row.audio_file !== null;
      if (row.summary) return { ...(JSON.parse(row.summary) as CallSummary), hasAudio };
      return summaryOf(JSON.parse(row.record ?? '{}') as CallRecord, hasAudio);
    });
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    const row = this.#db.prepare('SELECT record FROM calls WHERE call_sid = ?').get(callSid) as
      | { record: string }
      | undefined;
    return row ? (JSON.parse(row.record) as CallRecord) : undefined;
  }

  async audio(callSid: string): Promise<StoredAudio | undefined> {
    const row = this.#db.prepare('SELECT audio_file FROM calls WHERE call_sid = ?').get(callSid) as
      | { audio_file: string | null }
      | undefined;
    if (!row?.audio_file) return undefined;
    const path = join(this.#recordings, row.audio_file);
    const size = await stat(path).then(
      (s) => s.size,
      () => undefined,
    );
    if (size === undefined) return undefined;
    return { bytes: size, stream: (start = 0, end = size - 1) => createReadStream(path, { start, end }) };
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

/** Moves a finished file in (copies it when it is on another file system), readable by its owner only. */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await copyFile(from, to);
    await rm(from, { force: true });
  }
  await chmod(to, PRIVATE_FILE);
}
