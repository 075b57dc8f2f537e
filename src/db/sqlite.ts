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
    this.db.pragma('busy_timeout = 5000');
  }

  async query<Row>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
    return this.#run<Row>(text, params);
  }

  transaction<T>(_lock: string, work: (tx: SqlQuery) => Promise<T>): Promise<T> {
    const run = async () => {
      this.db.exec('BEGIN IMMEDIATE');
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
