import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { callsRouter, MAX_PAGE } from '../../../src/host/http/calls-page.js';
import type { CallRecord } from '../../../src/records/call-record.js';
import { SqliteCallStore } from '../../../src/records/sqlite-store.js';
import { useTmpDir } from '../../helpers/tmp.js';

const ADMIN = 'admin-token-for-large-reads';
const auth = { authorization: `Bearer ${ADMIN}` };

/** A finished call's record of about 10 KB (a 60-line transcript), as reliability test 12 used. */
function bigRecord(i: number): CallRecord {
  const startedAt = new Date(Date.UTC(2026, 10, 1) + i * 60_000).toISOString();
  return {
    callSid: `CA${String(i).padStart(32, '0')}`,
    agent: {
      name: 'moving',
      hash: 'h',
      model: 'gpt-realtime-2.1',
      transcriptionModel: 'gpt-live-transcribe',
    },
    from: '+15551230000',
    startedAt,
    durationMs: 120_000,
    outcome: { kind: 'completed', reason: 'caller hung up' },
    transcript: Array.from({ length: 60 }, (_, n) => ({
      atMs: n * 2000,
      role: n % 2 ? 'agent' : 'caller',
      text: `Line ${n} of a long conversation about moving a three-bedroom house across town, with stairs and a piano.`,
    })),
    toolCalls: [{ name: 'get_quote' }],
    cost: { total: 0.42 },
    latency: { p50Ms: 700, turns: [] },
    simulated: false,
  } as unknown as CallRecord;
}

describe('large reads (reliability test 12)', () => {
  const tmp = useTmpDir();
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  async function serve(store: SqliteCallStore): Promise<string> {
    const app = express();
    app.use(callsRouter({ store, adminToken: ADMIN, secureCookies: () => false }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    close = async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await store.close();
    };
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('10,000 calls: a list is a page of at most 500, read without parsing records; the pages cover every call once', async () => {
    const store = new SqliteCallStore(tmp());
    for (let from = 0; from < 10_000; from += 1_000)
      await store.write(Array.from({ length: 1_000 }, (_, i) => ({ record: bigRecord(from + i) })));
    // rows an older version wrote have no summary: they are still listed, from their record
    const db = new Database(join(tmp(), 'calls.db'));
    db.prepare('UPDATE calls SET summary = NULL WHERE call_sid = ?').run(bigRecord(9_999).callSid);
    // a list reads only the summaries: a record it would have had to parse is not even read
    db.prepare('UPDATE calls SET record = ? WHERE call_sid = ?').run('{not json', bigRecord(9_998).callSid);
    db.close();
    const base = await serve(store);

    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const pages = await Promise.all(
      Array.from({ length: 5 }, () => fetch(`${base}/api/calls?limit=10000`, { headers: auth })),
    );
    loop.disable();
    for (const res of pages) expect(res.status).toBe(200);
    const first = (await pages[0]!.json()) as { callSid: string; tools: string[]; from: string }[];
    expect(first).toHaveLength(MAX_PAGE);
    expect(first[0]).toMatchObject({
      callSid: bigRecord(9_999).callSid,
      tools: ['get_quote'],
      from: '+15551230000',
    });
    // the whole list froze the process for 1.4 s before (this machine is slower, hence the margin)
    expect(loop.max / 1e6).toBeLessThan(500);

    // following the Link header visits every call once, newest first
    const seen = new Set<string>();
    let url: string | undefined = `/api/calls?limit=${MAX_PAGE}`;
    while (url) {
      const res: Response = await fetch(`${base}${url}`, { headers: auth });
      for (const call of (await res.json()) as { callSid: string }[]) seen.add(call.callSid);
      url = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1];
    }
    expect(seen.size).toBe(10_000);

    // the page has an "Older calls" link to the same place
    const html = await (await fetch(`${base}/calls`, { headers: auth })).text();
    expect(html).toMatch(/href="\/calls\?after=2026-11-07T[^"]+_CA0+9800">Older calls/);
  });

  it('a Range request on a long recording sends that range, streamed from the file', async () => {
    const store = new SqliteCallStore(tmp());
    const record = { ...bigRecord(1), audio: { file: 'CA1.wav', durationMs: 1_800_000 } } as CallRecord;
    const wav = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < wav.length; i += 4) wav.writeUInt32LE(i, i);
    const path = join(tmp(), 'made.wav');
    writeFileSync(path, wav);
    await store.write([{ record, wav: path }]);
    const base = await serve(store);
    const audio = `${base}/calls/${record.callSid}/audio.wav`;

    const ranged = await fetch(audio, { headers: { ...auth, range: 'bytes=4000000-4065535' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 4000000-4065535/${wav.length}`);
    expect(ranged.headers.get('cache-control')).toBe('private, no-store');
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(wav.subarray(4_000_000, 4_065_536));

    const suffix = await fetch(audio, { headers: { ...auth, range: 'bytes=-100' } });
    expect(Buffer.from(await suffix.arrayBuffer())).toEqual(wav.subarray(wav.length - 100));
    const whole = await fetch(audio, { headers: auth });
    expect(whole.headers.get('content-length')).toBe(String(wav.length));
    expect(Buffer.from(await whole.arrayBuffer()).equals(wav)).toBe(true);
    const beyond = await fetch(audio, { headers: { ...auth, range: `bytes=${wav.length}-` } });
    expect(beyond.status).toBe(416);
  });
});
