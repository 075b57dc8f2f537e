/**
 * The little SQL the call store and the shared call state need, over SQLite (better-sqlite3) or
 * PostgreSQL (pg). Statements are written once with `$1, $2…` placeholders; numbers are plain
 * JavaScript numbers (times are epoch milliseconds), text is text, JSON is stored as text.
 */
export interface Sql {
  readonly dialect: 'sqlite' | 'postgres';
  /** Where it is, for people: a file, or the database URL without its password. */
  readonly location: string;
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /**
   * Runs `work` in one transaction that holds the database's write lock from its first statement
   * (SQLite `BEGIN IMMEDIATE`; PostgreSQL an advisory lock named by `lock`), so a read-then-write
   * such as "count the live calls, then admit one" is atomic across every process.
   */
  transaction<T>(lock: string, work: (tx: SqlQuery) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type SqlQuery = Pick<Sql, 'query'>;

/** A database URL with its password replaced, for logs and messages. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unreadable URL)';
  }
}
