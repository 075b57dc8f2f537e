import type { Sql } from '../db/sql.js';
import type { CallRecord } from './call-record.js';
import { summaryOf } from './sqlite-store.js';
import type { CallFilter, CallStore, CallSummary } from './store.js';

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS calls (
     call_sid TEXT PRIMARY KEY, agent TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL,
     outcome TEXT NOT NULL, has_audio BOOLEAN NOT NULL DEFAULT false, record JSONB NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS calls_started ON calls (started_at)',
  `CREATE TABLE IF NOT EXISTS recordings (
     call_sid TEXT PRIMARY KEY REFERENCES calls (call_sid) ON DELETE CASCADE, wav BYTEA NOT NULL)`,
];

/**
 * Call records in PostgreSQL (`DATABASE_URL`), recordings in the same database, so every server of a
 * deployment writes to, and `calls list` reads from, one place. A batch is one transaction: a
 * record never points at a recording that is not there.
 */
export class PostgresCallStore implements CallStore {
  readonly #sql: Sql;

  private constructor(sql: Sql) {
    this.#sql = sql;
  }

  static async open(sql: Sql): Promise<PostgresCallStore> {
    // servers starting together must not race to create the tables (see SharedCalls.open)
    await sql.transaction('voice-agent schema', async (tx) => {
      for (const statement of SCHEMA) await tx.query(statement);
    });
    return new PostgresCallStore(sql);
  }

  get location(): string {
    return this.#sql.location;
  }

  write(batch: { record: CallRecord; wav?: Buffer }[]): Promise<void> {
    return this.#sql.transaction('voice-agent records', async (tx) => {
      for (const { record, wav } of batch) {
        const withAudio = Boolean(wav && record.audio);
        await tx.query(
          `INSERT INTO calls (call_sid, agent, started_at, outcome, has_audio, record)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (call_sid) DO UPDATE SET outcome = $4, record = $6,
             has_audio = calls.has_audio OR $5`,
          [
            record.callSid,
            record.agent.name,
            record.startedAt,
            record.outcome.kind,
            withAudio,
            JSON.stringify(record),
          ],
        );
        if (withAudio)
          await tx.query(
            `INSERT INTO recordings (call_sid, wav) VALUES ($1, $2)
             ON CONFLICT (call_sid) DO UPDATE SET wav = $2`,
            [record.callSid, wav],
          );
      }
    });
  }

  async list(filter: CallFilter = {}): Promise<CallSummary[]> {
    const where: string[] = [];
    const params: unknown[] = [filter.limit ?? 100];
    if (filter.since) {
      params.push(filter.since.toISOString());
      where.push(`started_at >= $${params.length}`);
    }
    if (filter.outcome) {
      params.push(filter.outcome);
      where.push(`outcome = $${params.length}`);
    }
    const rows = await this.#sql.query<{ record: CallRecord; has_audio: boolean }>(
      `SELECT record, has_audio FROM calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY started_at DESC LIMIT $1`,
      params,
    );
    return rows.map((row) => summaryOf(row.record, row.has_audio));
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    const rows = await this.#sql.query<{ record: CallRecord }>(
      'SELECT record FROM calls WHERE call_sid = $1',
      [callSid],
    );
    return rows[0]?.record;
  }

  async audio(callSid: string): Promise<Buffer | undefined> {
    const rows = await this.#sql.query<{ wav: Buffer }>('SELECT wav FROM recordings WHERE call_sid = $1', [
      callSid,
    ]);
    return rows[0]?.wav;
  }

  async prune(before: Date): Promise<number> {
    const rows = await this.#sql.query('DELETE FROM calls WHERE started_at < $1 RETURNING call_sid', [
      before.toISOString(),
    ]);
    return rows.length;
  }

  close(): Promise<void> {
    return this.#sql.close();
  }
}
