import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** A fresh temporary directory per test, removed afterwards. */
export function useTmpDir(): () => string {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  return () => {
    dir ??= mkdtempSync(join(tmpdir(), 'voice-agent-test-'));
    return dir;
  };
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
}

let testDataDir: string | undefined;

/**
 * A data directory for the CLI processes this test file starts, so their call records never land in
 * the user's own (`~/.local/share/voice-agent`). Removed when the test process exits.
 */
export function sharedTestDataDir(): string {
  if (!testDataDir) {
    const dir = mkdtempSync(join(tmpdir(), 'voice-agent-data-'));
    testDataDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return testDataDir;
}
