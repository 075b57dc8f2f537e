import { chmodSync } from 'node:fs';

/** Directories and files that hold callers' data: the service's own user only. */
export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

/**
 * Makes a database file private (SQLite then creates its -wal and -shm files with the same mode).
 * `:memory:` and files the process may not change (someone else's) are left as they are.
 */
export function privateFile(path: string): void {
  if (path === ':memory:') return;
  try {
    chmodSync(path, PRIVATE_FILE);
  } catch {
    // not ours to change (a shared file set up by an operator): keep what they chose
  }
}
