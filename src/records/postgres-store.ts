import { open, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Sql, SqlQuery } from '../db/sql.js';
import type { CallRecord } from './call-record.js';
import { scratchRecordingsDir } from './memory-store.js';
import type { CallFilter, CallStore, CallSummary, RecordWrite, StoredAudio } from './store.js';
import { pageWhere, summaryOf } from './summary.js';

/** Recordings are kept in rows of this many bytes: written and read a piece at a time. */
const CHUNK_BYTES = 1 << 20;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS calls (
     call_sid TEXT PRIMARY KEY, agent TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL,
     outcome TEXT NOT NULL, has_audio BOOLEAN NOT NULL DEFAULT false, record JSONB NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS calls_started ON calls (started_at)',
  'ALTER TABLE calls ADD COLUMN IF NOT EXISTS summary JSONB',
  // one row per recording, as versions before 0.31 wrote them: still read, no longer written
  `CREATE TABLE IF NOT EXISTS recordings (
     call_sid TEXT PRIMARY KEY REFERENCES calls (call_sid) ON DELETE CASCADE, wav BYTEA NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS recording_chunks (
     call_sid TEXT NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE, seq INTEGER NOT NULL,
     data BYTEA NOT NULL, PRIMARY KEY (call_sid, seq))`,
];

/**
 * Call records in PostgreSQL (`DATABASE_URL`), recordings in the same database (in 1 MiB rows, so
 * neither writing nor a Range request holds a whole one in memory), so every server of a deployment
 * writes to, and `calls list` reads from, one place. A batch is one transaction: a record never points
 * at a recording that is not there.
 */
export class PostgresCallStore implements CallStore {
  readonly #sql: Sql;
  readonly workDir = scratchRecordingsDir();

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

  async write(batch: RecordWrite[]): Promise<void> {
    await this.#sql.transaction('voice-agent records', async (tx) => {
      for (const { record, wav } of batch) {
        const withAudio = Boolean(wav && record.audio);
        await tx.query(
          `INSERT INTO calls (call_sid, agent, started_at, outcome, has_audio, record, summary)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (call_sid) DO UPDATE SET outcome = $4, record = $6, summary = $7,
             has_audio = calls.has_audio OR $5`,
          [
            record.callSid,
            record.agent.name,
            record.startedAt,
            record.outcome.kind,
            withAudio,
            JSON.stringify(record),
            JSON.stringify(summaryOf(record, false)),
          ],
        );
        if (wav && withAudio) await writeChunks(tx, record.callSid, wav);
      }
    });
    for (const { wav } of batch) if (wav) await rm(wav, { force: true });
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
    if (filter.after) {
      params.push(filter.after.startedAt, filter.after.callSid);
      where.push(pageWhere(`$${params.length - 1}::timestamptz`, `$${params.length}`));
    }
    // rows written before the summary column existed are summarised from their record
    const rows = await this.#sql.query<{
      summary: CallSummary | null;
      record: CallRecord | null;
      has_audio: boolean;
    }>(
      `SELECT summary, CASE WHEN summary IS NULL THEN record END AS record, has_audio FROM calls
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY started_at DESC, call_sid DESC LIMIT $1`,
      params,
    );
    return rows.map((row) =>
      row.summary
        ? { ...row.summary, hasAudio: row.has_audio }
        : summaryOf(row.record as CallRecord, row.has_audio),
    );
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    const rows = await this.#sql.query<{ record: CallRecord }>(
      'SELECT record FROM calls WHERE call_sid = $1',
      [callSid],
    );
    return rows[0]?.record;
  }

  async audio(callSid: string): Promise<StoredAudio | undefined> {
    const sql = this.#sql;
    const [chunked] = await sql.query<{ bytes: string | null }>(
      'SELECT sum(octet_length(data)) AS bytes FROM recording_chunks WHERE call_sid = $1',
      [callSid],
    );
    if (chunked?.bytes)
      return rangeStream(Number(chunked.bytes), async (seq) => {
        const [row] = await sql.query<{ data: Buffer }>(
          'SELECT data FROM recording_chunks WHERE call_sid = $1 AND seq = $2',
          [callSid, seq],
        );
        return row?.data;
      });
    // a recording a version before 0.31 kept in one row: read a chunk's worth at a time
    const [single] = await sql.query<{ bytes: number }>(
      'SELECT octet_length(wav) AS bytes FROM recordings WHERE call_sid = $1',
      [callSid],
    );
    if (!single) return undefined;
    return rangeStream(single.bytes, async (seq) => {
      const [row] = await sql.query<{ data: Buffer }>(
        'SELECT substring(wav FROM $2 FOR $3) AS data FROM recordings WHERE call_sid = $1',
        [callSid, seq * CHUNK_BYTES + 1, CHUNK_BYTES],
      );
      return row?.data;
    });
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

/** Replaces a call's recording with the WAV file at `path`, a chunk at a time. */
async function writeChunks(tx: SqlQuery, callSid: string, path: string): Promise<void> {
  await tx.query('DELETE FROM recording_chunks WHERE call_sid = $1', [callSid]);
  await tx.query('DELETE FROM recordings WHERE call_sid = $1', [callSid]);
  const file = await open(path, 'r');
  try {
    for (let seq = 0; ; seq++) {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      const { bytesRead } = await file.read(chunk, 0, CHUNK_BYTES, seq * CHUNK_BYTES);
      if (bytesRead === 0) break;
      await tx.query('INSERT INTO recording_chunks (call_sid, seq, data) VALUES ($1, $2, $3)', [
        callSid,
        seq,
        chunk.subarray(0, bytesRead),
      ]);
    }
  } finally {
    await file.close();
  }
}

/**
 * A recording kept in {@link CHUNK_BYTES} pieces (`read(seq)` gives piece `seq`): a range reads only
 * the pieces it spans.
 */
function rangeStream(bytes: number, read: (seq: number) => Promise<Buffer | undefined>): StoredAudio {
  return {
    bytes,
    stream: (start = 0, end = bytes - 1) =>
      Readable.from(
        (async function* () {
          for (let seq = Math.floor(start / CHUNK_BYTES); seq * CHUNK_BYTES <= end; seq++) {
            const piece = await read(seq);
            if (!piece) return;
            const base = seq * CHUNK_BYTES;
            yield piece.subarray(Math.max(0, start - base), end - base + 1);
          }
        })(),
      ),
  };
}
