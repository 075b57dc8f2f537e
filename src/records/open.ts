import type { AgentConfig } from '../config/schema.js';
import { connectPostgres, databaseUrlOf } from '../db/open.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { CallRecords } from './call-records.js';
import { MemoryCallStore } from './memory-store.js';
import { PostgresCallStore } from './postgres-store.js';
import { SqliteCallStore } from './sqlite-store.js';
import type { CallStore } from './store.js';

export { dataDir } from '../config/data-dir.js';

/** Opens the embedded store (SQLite plus recordings) in a data directory, creating it on first use. */
export function openCallStore(dir: string): CallStore {
  return new SqliteCallStore(dir);
}

/** The store `calls` reads: PostgreSQL with DATABASE_URL, else the data directory's SQLite. */
export async function openSharedOrLocalStore(
  env: Readonly<Record<string, string | undefined>>,
  dir: string,
): Promise<CallStore> {
  const url = databaseUrlOf(env);
  return url ? PostgresCallStore.open(await connectPostgres(url)) : openCallStore(dir);
}

/**
 * The agent's call records, or undefined when `records.enabled` is false — or when the store cannot
 * be opened, which is logged: the agent still takes calls, without records.
 */
export function openCallRecords(o: {
  agent: AgentConfig;
  dir: string;
  logger: Logger;
  /** A store already open (PostgreSQL): used instead of the data directory's. */
  store?: CallStore;
  /** Keep records in memory when `records.enabled` is false (a simulated call's HTML report). */
  inMemoryWhenOff?: boolean;
}): CallRecords | undefined {
  if (!o.agent.records.enabled) {
    if (!o.inMemoryWhenOff) return undefined;
    return new CallRecords({ store: new MemoryCallStore(), agent: o.agent, logger: o.logger });
  }
  let store: CallStore;
  try {
    store = o.store ?? openCallStore(o.dir);
  } catch (error) {
    o.logger.warn(
      { dataDir: o.dir, reason: errorMessage(error) },
      'call records are off: the data directory cannot be used (set --data-dir or VOICE_AGENT_DATA_DIR)',
    );
    return undefined;
  }
  return new CallRecords({ store, agent: o.agent, logger: o.logger });
}
