import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecordBuilder } from '../../../src/records/call-record.js';
import { readAudio } from '../../../src/records/store.js';

import { recordContext as context, recordEvents as events } from '../../helpers/record-events.js';

describe('SqliteCallStore', () => {
  it('keeps records and recordings, lists them newest first, and prunes old ones with their files', async () => {
    const { SqliteCallStore } = await import('../../../src/records/sqlite-store.js');
    const dir = mkdtempSync(join(tmpdir(), 'va-store-'));
    try {
      const store = new SqliteCallStore(dir);
      const at = (iso: string, sid: string) => {
        const builder = new RecordBuilder({ ...context, now: () => Date.parse(iso) }, sid);
        for (const e of events) builder.add(e);
        builder.record.audio = { file: `${sid}.wav`, durationMs: 5000 };
        return builder.record;
      };
      const file = (text: string) => {
        const path = join(dir, `${text}.tmp`);
        writeFileSync(path, text);
        return path;
      };
      const oldWav = file('RIFFold');
      await store.write([
        { record: at('2026-01-01T00:00:00Z', 'CAold'), wav: oldWav },
        { record: at('2026-11-20T00:00:00Z', 'CAnew'), wav: file('RIFFnew') },
      ]);
      expect(existsSync(oldWav)).toBe(false); // moved in
      expect((await store.list()).map((c) => c.callSid)).toEqual(['CAnew', 'CAold']);
      expect((await store.list({ since: new Date('2026-06-01') })).map((c) => c.callSid)).toEqual(['CAnew']);
      expect(await readAudio(await store.audio('CAold'))).toEqual(Buffer.from('RIFFold'));
      expect(statSync(join(dir, 'recordings', 'CAold.wav')).mode & 0o777).toBe(0o600);
      expect(await store.prune(new Date('2026-06-01'))).toBe(1);
      expect(await store.get('CAold')).toBeUndefined();
      expect(existsSync(join(dir, 'recordings', 'CAold.wav'))).toBe(false);
      expect(existsSync(join(dir, 'recordings', 'CAnew.wav'))).toBe(true);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
