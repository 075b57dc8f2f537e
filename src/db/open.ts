import { UsageError } from '../errors.js';
import { PostgresSql } from './postgres.js';
import { redactedUrl } from './sql.js';

/** The shared database of a deployment, if there is one: `DATABASE_URL` (PostgreSQL). */
export function databaseUrlOf(env: Readonly<Record<string, string | undefined>>): string | undefined {
  return env.DATABASE_URL || undefined;
}

/**
 * Connects to PostgreSQL and checks it answers, or says what to fix — with the password left out of
 * every message.
 */
export async function connectPostgres(url: string): Promise<PostgresSql> {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new UsageError('DATABASE_URL is not a URL: expected postgres://user:password@host:5432/database');
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:')
    throw new UsageError(
      `DATABASE_URL must be a PostgreSQL URL (postgres://…), got ${protocol}// (SQLite needs no URL: it is the default)`,
    );
  const sql = new PostgresSql(url);
  try {
    await sql.query('SELECT 1');
    return sql;
  } catch (error) {
    await sql.close().catch(() => undefined);
    const reason = (error as Error).message.replaceAll(url, redactedUrl(url));
    throw new UsageError(`cannot use the database at ${redactedUrl(url)}: ${reason} (check DATABASE_URL)`);
  }
}
