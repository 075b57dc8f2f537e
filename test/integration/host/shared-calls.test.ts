import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PostgresSql } from '../../../src/db/postgres.js';
import type { Sql } from '../../../src/db/sql.js';
import { SqliteSql } from '../../../src/db/sqlite.js';
import { INSTANCE_STALE_MS, SharedCalls } from '../../../src/host/calls/shared-calls.js';
import { PostgresCallStore } from '../../../src/records/postgres-store.js';
import { readAudio } from '../../../src/records/store.js';
import { usePostgres } from '../../helpers/postgres.js';
import { useTmpDir } from '../../helpers/tmp.js';

/**
 * The shared call state as two processes see it: each test opens two SharedCalls (two instances)
 * on one database — a SQLite file (the workers of one machine) and a real PostgreSQL server.
 */
const postgres = usePostgres();

/** Polls an asynchronous condition until it holds (or fails the test after `timeoutMs`). */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const tempDir = useTmpDir();
let databases = 0;
const backends: [string, () => Promise<() => Sql>][] = [
  [
    'SQLite (one file, several processes)',
    async () => {
      const file = join(tempDir(), 'calls.db');
      return () => new SqliteSql(file);
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const url = await postgres().database(`shared_${++databases}`);
      return () => new PostgresSql(url);
    },
  ],
];

describe.each(backends)('shared call state on %s', (_name, database) => {
  async function twoInstances(now: () => number = Date.now) {
    const connect = await database();
    const a = await SharedCalls.open(connect(), 'host-a:1:aa', now);
    const b = await SharedCalls.open(connect(), 'host-b:2:bb', now);
    return { a, b, close: () => Promise.all([a.close(), b.close()]) };
  }
  const brief = { direction: 'inbound' as const, greeting: 'Hello' };

  it('a call admitted by one process is streamed by the other, once', async () => {
    const { a, b, close } = await twoInstances();
    expect(
      await a.admit({ callSid: 'CA1', agent: 'moving', brief, parties: { from: '+15550001111' } }),
    ).toMatchObject({ kind: 'admitted', leg: 1 });
    expect(await b.admit({ callSid: 'CA1', agent: 'moving', brief, parties: {} })).toMatchObject({
      kind: 'repeated',
      leg: 1,
      instance: 'host-a:1:aa',
    });
    expect(await b.claim('CA1', 1)).toEqual({ brief, parties: { from: '+15550001111' } });
    expect(await a.claim('CA1', 1)).toBeUndefined(); // replayed on the first process
    expect(await a.holderOf('CA1')).toBe('host-b:2:bb');
    await close();
  });

  it('holds call.max_concurrent across processes, atomically', async () => {
    const { a, b, close } = await twoInstances();
    const admit = (calls: SharedCalls, n: number) =>
      calls.admit({ callSid: `CA${n}`, agent: 'moving', brief, parties: {}, maxConcurrent: 3 });
    // eight webhooks at once, half on each process: exactly three get in
    const results = await Promise.all(Array.from({ length: 8 }, (_, n) => admit(n % 2 ? a : b, n)));
    expect(results.filter((r) => r.kind === 'admitted')).toHaveLength(3);
    expect(results.filter((r) => r.kind === 'full')).toHaveLength(5);
    // another agent has its own limit
    expect(
      (await a.admit({ callSid: 'CA99', agent: 'dentist', brief, parties: {}, maxConcurrent: 3 })).kind,
    ).toBe('admitted');
    await close();
  });

  it('answers the action request on any process with how the stream ended', async () => {
    const { a, b, close } = await twoInstances();
    await a.admit({ callSid: 'CA1', agent: 'moving', brief, parties: {} });
    await b.claim('CA1', 1);
    const asked = a.outcomeOf('CA1', 5_000); // Twilio asks before b has written it
    await new Promise((r) => setTimeout(r, 120));
    await b.ended('CA1', { kind: 'transfer', to: '+15550002222', reason: 'asked for a person' });
    expect(await asked).toMatchObject({ kind: 'transfer', to: '+15550002222' });
    expect(await b.awaitingAction(['CA1'])).toEqual([]);
    // nobody answered the transfer: the caller comes back on a new leg, on either process
    expect(await a.resume('CA1', (earlier) => ({ ...earlier, greeting: 'Sorry' }))).toBe(2);
    expect(await a.claim('CA1', 1)).toBeUndefined();
    expect(await b.claim('CA1', 2)).toMatchObject({ brief: { greeting: 'Sorry' } });
    await close();
  });

  it('sends a command to the process holding the call, once', async () => {
    const { a, b, close } = await twoInstances();
    await a.admit({ callSid: 'CA1', agent: 'moving', brief, parties: {} });
    await b.claim('CA1', 1);
    const holder = await a.holderOf('CA1');
    await a.send(holder!, { kind: 'hangup', callSid: 'CA1', reason: 'operator' });
    expect(await a.takeCommands()).toEqual([]);
    expect(await b.takeCommands()).toEqual([{ kind: 'hangup', callSid: 'CA1', reason: 'operator' }]);
    expect(await b.takeCommands()).toEqual([]);
    // an answering-machine report for a call streaming elsewhere names its holder
    expect(await a.answeredBy('CA1', 'machine')).toEqual({ holder: 'host-b:2:bb', brief });
    await close();
  });

  it('a process that stops answering frees its calls: they stop counting, their action gets the fallback', async () => {
    let now = Date.now();
    const { a, b, close } = await twoInstances(() => now);
    await a.admit({ callSid: 'CA1', agent: 'moving', brief, parties: {}, maxConcurrent: 1 });
    await b.claim('CA1', 1);
    expect(
      (await a.admit({ callSid: 'CA2', agent: 'moving', brief, parties: {}, maxConcurrent: 1 })).kind,
    ).toBe('full');
    now += INSTANCE_STALE_MS + 1_000;
    await a.heartbeat(); // a is alive, b went silent
    expect((await a.live('moving')).map((c) => c.callSid)).toEqual([]);
    expect(await a.outcomeOf('CA1', 0)).toMatchObject({ kind: 'failed', code: 'instance_lost' });
    expect(
      (await a.admit({ callSid: 'CA2', agent: 'moving', brief, parties: {}, maxConcurrent: 1 })).kind,
    ).toBe('admitted');
    await close();
  });

  it('no ghost slots: an end the database missed is stored once it answers; a row no process holds is reconciled', async () => {
    const connect = await database();
    let down = false;
    const real = connect();
    // the same database, failing on demand (an outage, a held lock)
    const flaky: Sql = {
      dialect: real.dialect,
      location: real.location,
      query: (text, params) => (down ? Promise.reject(new Error('database down')) : real.query(text, params)),
      transaction: (lock, work) =>
        down ? Promise.reject(new Error('database down')) : real.transaction(lock, work),
      close: () => real.close(),
    } as Sql;
    const clock = { now: Date.now() };
    const calls = await SharedCalls.open(flaky, 'host-c:3:cc', () => clock.now);
    for (const callSid of ['CA1', 'CA2']) {
      await calls.admit({ callSid, agent: 'moving', brief, parties: {}, maxConcurrent: 2 });
      await calls.claim(callSid, 1);
    }
    await calls.heartbeat();
    expect((await calls.live('moving')).length).toBe(2);
    down = true;
    await expect(calls.ended('CA1', { kind: 'completed', reason: 'caller hung up' })).rejects.toThrow(
      'database down',
    );
    down = false;
    const held = new Set(['CA2']);
    calls.start(
      () => {},
      () => {},
      () => {},
      () => held,
    );
    // CA1's end is retried at the next tick: its slot is free again
    await until(async () => (await calls.live('moving')).length === 1, 5_000);
    // CA2 ended without a word (its end lost some other way): once its row is old enough, the
    // heartbeat ends it, since this process no longer holds it
    held.clear();
    clock.now += 15_000;
    await until(async () => (await calls.live('moving')).length === 0, 10_000);
    await calls.stop();
    await calls.close();
  });
});

describe('servers starting together on a new PostgreSQL database', () => {
  it('create the tables once, without racing each other', async () => {
    const url = await postgres().database('fresh');
    const opened = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => ({
        calls: await SharedCalls.open(new PostgresSql(url), `host:${i}:00`),
        records: await PostgresCallStore.open(new PostgresSql(url)),
      })),
    );
    expect(
      await opened[0]!.calls.admit({
        callSid: 'CA1',
        agent: 'moving',
        brief: { direction: 'inbound' },
        parties: {},
      }),
    ).toMatchObject({ kind: 'admitted' });
    await Promise.all(opened.flatMap((o) => [o.calls.close(), o.records.close()]));
  });
});

describe('call records in PostgreSQL', () => {
  it('keeps records and recordings from several servers in one place, and prunes them', async () => {
    const url = await postgres().database('records');
    const one = await PostgresCallStore.open(new PostgresSql(url));
    const two = await PostgresCallStore.open(new PostgresSql(url));
    const record = (callSid: string, startedAt: string) =>
      ({
        callSid,
        agent: { name: 'moving' },
        startedAt,
        durationMs: 1000,
        outcome: { kind: 'completed', reason: 'caller hung up' },
        toolCalls: [{ name: 'get_quote' }],
        cost: { total: 0.01 },
        latency: { p50Ms: 700 },
        simulated: false,
        audio: { file: `${callSid}.wav` },
      }) as never;
    const wav = Buffer.from('RIFF....WAVEfmt ');
    const wavFile = join(mkdtempSync(join(tmpdir(), 'va-wav-')), 'CA1.wav');
    writeFileSync(wavFile, wav);
    await one.write([{ record: record('CA1', '2026-11-25T10:00:00.000Z'), wav: wavFile }]);
    await two.write([{ record: record('CA2', '2026-11-25T11:00:00.000Z') }]);
    expect((await one.list()).map((c) => [c.callSid, c.hasAudio, c.tools])).toEqual([
      ['CA2', false, ['get_quote']],
      ['CA1', true, ['get_quote']],
    ]);
    expect(await readAudio(await two.audio('CA1'))).toEqual(wav);
    expect((await two.get('CA1'))?.startedAt).toBe('2026-11-25T10:00:00.000Z');
    // a later write of the same call (its final record) keeps the recording
    await two.write([{ record: record('CA1', '2026-11-25T10:00:00.000Z') }]);
    expect((await one.list({ outcome: 'completed', since: new Date('2026-11-25T09:00:00Z') })).length).toBe(
      2,
    );
    expect(await readAudio(await one.audio('CA1'))).toEqual(wav);
    expect(await one.prune(new Date('2026-11-25T10:30:00Z'))).toBe(1);
    expect(await one.audio('CA1')).toBeUndefined();
    expect((await two.list()).map((c) => c.callSid)).toEqual(['CA2']);
    await one.close();
    await two.close();
  });
});

describe('recordings and long lists in PostgreSQL (reliability test 12)', () => {
  it('a recording is kept in 1 MiB rows and read by range; lists come in pages; old single-row recordings still play', async () => {
    const url = await postgres().database('chunks');
    const store = await PostgresCallStore.open(new PostgresSql(url));
    const record = (callSid: string, startedAt: string, audio = false) =>
      ({
        callSid,
        agent: { name: 'moving' },
        startedAt,
        durationMs: 1000,
        outcome: { kind: 'completed', reason: 'caller hung up' },
        toolCalls: [],
        cost: {},
        latency: {},
        simulated: false,
        ...(audio ? { audio: { file: `${callSid}.wav` } } : {}),
      }) as never;
    const wav = Buffer.alloc(3 * 1024 * 1024 + 123);
    for (let i = 0; i < wav.length - 3; i += 4) wav.writeUInt32LE(i, i);
    const wavFile = join(mkdtempSync(join(tmpdir(), 'va-wav-')), 'CA1.wav');
    writeFileSync(wavFile, wav);
    await store.write([{ record: record('CA1', '2026-11-25T10:00:00.000Z', true), wav: wavFile }]);
    const audio = (await store.audio('CA1'))!;
    expect(audio.bytes).toBe(wav.length);
    const chunks = await new PostgresSql(url).query<{ n: string }>(
      'SELECT count(*) AS n FROM recording_chunks',
    );
    expect(Number(chunks[0]!.n)).toBe(4);
    // a range across a row boundary, and the whole
    const part: Buffer[] = [];
    for await (const c of audio.stream(1024 * 1024 - 10, 1024 * 1024 + 9)) part.push(c as Buffer);
    expect(Buffer.concat(part)).toEqual(wav.subarray(1024 * 1024 - 10, 1024 * 1024 + 10));
    expect((await readAudio(audio))!.equals(wav)).toBe(true);

    // a recording a version before chunks wrote, in one row
    const sql = new PostgresSql(url);
    await store.write([{ record: record('CA0', '2026-11-25T09:00:00.000Z') }]);
    await sql.query('INSERT INTO recordings (call_sid, wav) VALUES ($1, $2)', ['CA0', wav]);
    const legacy = (await store.audio('CA0'))!;
    const tail: Buffer[] = [];
    for await (const c of legacy.stream(wav.length - 5)) tail.push(c as Buffer);
    expect(Buffer.concat(tail)).toEqual(wav.subarray(wav.length - 5));

    // pages: the same start time for many calls still pages without a gap or a repeat
    await store.write(
      Array.from({ length: 7 }, (_, i) => ({ record: record(`CB${i}`, '2026-11-25T11:00:00.000Z') })),
    );
    const seen: string[] = [];
    let after: { startedAt: string; callSid: string } | undefined;
    for (;;) {
      const page = await store.list({ limit: 3, ...(after ? { after } : {}) });
      seen.push(...page.map((c) => c.callSid));
      if (page.length < 3) break;
      after = page.at(-1)!;
    }
    expect(seen).toEqual(['CB6', 'CB5', 'CB4', 'CB3', 'CB2', 'CB1', 'CB0', 'CA1', 'CA0']);
    await sql.close();
    await store.close();
  });
});

describe('readiness tells the truth about the database', () => {
  it('/readyz is not ready while the shared PostgreSQL is down, and says why (logged once)', async () => {
    const { startPostgres } = await import('../../helpers/postgres.js');
    const { startHarness } = await import('../../helpers/call-harness.js');
    const own = await startPostgres(); // a server of its own: this test stops it
    const shared = await SharedCalls.open(new PostgresSql(await own.database('readyz')), 'readyz-test');
    const h = await startHarness({
      server: {
        sharedCalls: shared,
        readiness: () => ({
          realtime: 'skipped',
          mcpDown: [],
          ...(shared.problem ? { databaseError: shared.problem } : {}),
        }),
      },
    });
    const readyz = async () => {
      const res = await fetch(`${h.server.publicUrl}/readyz`);
      return { status: res.status, body: (await res.json()) as { status: string; database_error?: string } };
    };
    try {
      expect((await readyz()).status).toBe(200);
      await own.stop();
      const down = await (async () => {
        for (let i = 0; i < 200; i++) {
          const r = await readyz();
          if (r.status === 503) return r;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        throw new Error('/readyz stayed ready with the database down');
      })();
      expect(down.body).toMatchObject({ status: 'not_ready', database_error: expect.any(String) });
      expect(h.logs.join('\n')).toContain('the shared call state is unreachable');
      // logged once, not at every tick of the loop
      expect(h.logs.join('\n').match(/the shared call state is unreachable/g)).toHaveLength(1);
    } finally {
      await h.close();
      await shared.stop();
      await shared.close().catch(() => undefined);
    }
  }, 60_000);
});
