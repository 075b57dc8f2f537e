import Database from 'better-sqlite3';
import { privateFile } from './private-files.js';
import type { Sql, SqlQuery } from './sql.js';

/**
 * Transactions waiting, per database file, in this process: two connections to one file in one
 * thread must not interleave, or the second's `BEGIN IMMEDIATE` would block the thread the first
 * needs to commit.
 */
const queues = new Map<string, Promise<unknown>>();

/**
 * {@link Sql} over better-sqlite3: WAL and a busy timeout, so the workers of one machine share one
 * file. Statements run synchronously; transactions are queued so two never interleave in this
 * process (see `queues`), and `BEGIN IMMEDIATE` serialises them with the other processes.
 */
export class SqliteSql implements Sql {
  readonly dialect = 'sqlite';
  readonly location: string;
  readonly db: Database.Database;
  readonly #statements = new Map<string, { statement: Database.Statement; order: number[] }>();

  /** `file` is a path, or `:memory:` for a store only this process sees. */
  constructor(file: string) {
    this.location = file;
    this.db = new Database(file);
    privateFile(file);
    if (file !== ':memory:') this.db.pragma('journal_mode = WAL');
    // never wait on a lock inside SQLite: that wait blocks the event loop, and every call of the
    // process with it (reliability test 17). A busy database is tried again on a timer instead.
    this.db.pragma('busy_timeout = 0');
  }

  async query<Row>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
    return whenNotBusy(() => this.#run<Row>(text, params));
  }

  transaction<T>(_lock: string, work: (tx: SqlQuery) => Promise<T>): Promise<T> {
    const run = async () => {
      await whenNotBusy(() => this.db.exec('BEGIN IMMEDIATE'));
      try {
        const result = await work({
          query: async <Row>(text: string, params: readonly unknown[] = []) => this.#run<Row>(text, params),
        });
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    };
    const queue = queues.get(this.location) ?? Promise.resolve();
    const result = queue.then(run, run);
    queues.set(
      this.location,
      result.catch(() => undefined),
    );
    return result;
  }

  async close(): Promise<void> {
    await queues.get(this.location);
    this.db.close();
  }

  #run<Row>(text: string, params: readonly unknown[]): Row[] {
    let prepared = this.#statements.get(text);
    if (!prepared) {
      // `$n` becomes `?`, and the values are bound in the order the placeholders appear
      const order: number[] = [];
      const statement = this.db.prepare(
        text.replace(/\$(\d+)/g, (_, n: string) => {
          order.push(Number(n) - 1);
          return '?';
        }),
      );
      prepared = { statement, order };
      this.#statements.set(text, prepared);
    }
    const values = prepared.order.map((i) => {
      const value = params[i];
      return typeof value === 'boolean' ? Number(value) : value;
    });
    if (prepared.statement.reader) return prepared.statement.all(...values) as Row[];
    prepared.statement.run(...values);
    return [];
  }
}

/** The longest a statement waits (on timers, not the event loop) for another process's lock. */
export const MAX_BUSY_WAIT_MS = 3_000;

/**
 * Runs `statement` now; while another connection holds the lock (SQLITE_BUSY), again after 5, 10, 20…
 * ms (at most 200 ms apart) until {@link MAX_BUSY_WAIT_MS} have passed, then fails with the lock error.
 */
export async function whenNotBusy<T>(statement: () => T): Promise<T> {
  const started = Date.now();
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    try {
      return statement();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const busy = code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
      if (!busy || Date.now() - started + delay > MAX_BUSY_WAIT_MS) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
