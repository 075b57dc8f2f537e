import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecordBuilder } from '../../../src/records/call-record.js';

import { recordContext as context } from '../../helpers/record-events.js';

describe('records a stopped server left behind', () => {
  it('an in_progress record older than the longest call is closed as failed at start-up; a live one is not', async () => {
    const { MemoryCallStore } = await import('../../../src/records/memory-store.js');
    const { CallRecords } = await import('../../../src/records/call-records.js');
    const { createLogger } = await import('../../../src/observability/logger.js');
    const { testAgent } = await import('../../helpers/call-harness.js');
    const store = new MemoryCallStore();
    const startedAgo = (ms: number) =>
      new RecordBuilder({ ...context, now: () => Date.now() - ms }, `CA${ms}`).record;
    const crashed = startedAgo(2 * 3_600_000); // the agent's longest call is 30 minutes
    const live = startedAgo(60_000);
    await store.write([{ record: crashed }, { record: live }]);
    const logs: string[] = [];
    const records = new CallRecords({
      store,
      agent: testAgent(),
      logger: createLogger({ level: 'info', json: true, write: (line) => logs.push(line) }),
    });
    records.startPruning();
    for (let i = 0; i < 100 && (await store.get(crashed.callSid))?.outcome.kind === 'in_progress'; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect((await store.get(crashed.callSid))?.outcome).toEqual({
      kind: 'failed',
      code: 'instance_lost',
      reason: 'the server stopped during the call: its end was never recorded',
    });
    expect((await store.get(live.callSid))?.outcome.kind).toBe('in_progress');
    expect(logs.join('\n')).toContain('closed call records a stopped server left in progress');
    await records.close();
  });
  it('half-made recordings a stopped server left are deleted at start-up; a live call’s tracks are kept', async () => {
    const { SqliteCallStore } = await import('../../../src/records/sqlite-store.js');
    const { CallRecords } = await import('../../../src/records/call-records.js');
    const { createLogger } = await import('../../../src/observability/logger.js');
    const { testAgent } = await import('../../helpers/call-harness.js');
    const { mkdirSync, utimesSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'va-left-'));
    try {
      const store = new SqliteCallStore(dir);
      mkdirSync(store.workDir, { recursive: true });
      const old = join(store.workDir, 'CAold.caller.ulaw');
      const live = join(store.workDir, 'CAlive.caller.ulaw');
      writeFileSync(old, 'x');
      writeFileSync(live, 'x');
      const hoursAgo = Date.now() / 1000 - 2 * 3600; // the agent's longest call is 30 minutes
      utimesSync(old, hoursAgo, hoursAgo);
      const logs: string[] = [];
      const records = new CallRecords({
        store,
        agent: testAgent(),
        logger: createLogger({ level: 'info', json: true, write: (line) => logs.push(line) }),
      });
      records.startPruning();
      for (let i = 0; i < 100 && existsSync(old); i++) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(old)).toBe(false);
      expect(existsSync(live)).toBe(true);
      await records.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
