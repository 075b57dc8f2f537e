import pg from 'pg';
import { redactedUrl, type Sql, type SqlQuery } from './sql.js';

// BIGINT (epoch milliseconds, counts) as numbers: every value we keep fits in a double
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => Number(text));

/** The longest one query may take before it fails (the server stopped answering). */
export const QUERY_TIMEOUT_MS = 5_000;

/** {@link Sql} over a pg pool (`DATABASE_URL`). */
export class PostgresSql implements Sql {
  readonly dialect = 'postgres';
  readonly location: string;
  readonly #pool: pg.Pool;

  constructor(url: string, options: { max?: number } = {}) {
    this.location = redactedUrl(url);
    this.#pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 10,
      connectionTimeoutMillis: 5_000,
      // a frozen server must not hold a call's admission (or anything else) for ever
      query_timeout: QUERY_TIMEOUT_MS,
    });
    // an idle client whose server went away must not take the process down; the next query reconnects
    this.#pool.on('error', () => undefined);
  }

  async query<Row>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
    return (await this.#pool.query(text, params as unknown[])).rows as Row[];
  }

  async transaction<T>(lock: string, work: (tx: SqlQuery) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lock]);
      const result = await work({
        query: async <Row>(text: string, params: readonly unknown[] = []) =>
          (await client.query(text, params as unknown[])).rows as Row[],
      });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
