import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mulawSilence, mulawTone } from '../../../src/audio/mulaw.js';
import { parseWav } from '../../../src/audio/wav.js';
import type { CallEvent } from '../../../src/bridge/call-events.js';
import { AudioRecorder } from '../../../src/records/audio-recorder.js';
import { RecordBuilder } from '../../../src/records/call-record.js';
import { callPage } from '../../../src/records/page/pages.js';
import { costOf, MODEL_PRICES } from '../../../src/records/pricing.js';
import { readAudio } from '../../../src/records/store.js';

const b64 = (ms: number) => mulawTone(ms).toString('base64');

describe('AudioRecorder', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'va-rec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const wavOf = async (rec: AudioRecorder) => {
    const path = join(dir, 'out.wav');
    await rec.writeWav(path);
    await rec.discard();
    return parseWav(readFileSync(path)).data;
  };
  /** Mean level of one channel (0 caller, 1 agent) over 10 ms from `ms`. */
  const level = (data: Buffer, channel: 0 | 1, ms: number) => {
    let sum = 0;
    for (let i = ms * 8; i < (ms + 10) * 8; i++) sum += Math.abs(data.readInt16LE((i * 2 + channel) * 2));
    return sum / 80;
  };

  it('puts agent audio where it plays: after what is queued, and drops what a clear cut', async () => {
    const rec = new AudioRecorder(dir, 'CA1');
    rec.agent(b64(1000), 0); // plays 0–1000
    rec.agent(b64(1000), 100); // sent early: queued, plays 1000–2000
    rec.cleared(1500); // barge-in at 1.5 s: the rest never played
    rec.agent(b64(200), 3000);
    expect(rec.durationMs).toBe(3200);
    const data = await wavOf(rec);
    expect(data.length / 4).toBe(3200 * 8);
    expect(level(data, 1, 1400)).toBeGreaterThan(0);
    expect(level(data, 1, 1700)).toBe(0); // cut
    expect(level(data, 1, 2500)).toBe(0);
    expect(level(data, 1, 3100)).toBeGreaterThan(0);
  });

  it('puts caller frames at their stream timestamps, silence in the gaps, a late frame in its place', async () => {
    const rec = new AudioRecorder(dir, 'CA1');
    rec.caller(b64(20), 0);
    rec.caller(b64(20), 1000);
    for (let ms = 1020; ms < 3000; ms += 20) rec.caller(mulawSilence(20).toString('base64'), ms);
    rec.caller(b64(20), 1500); // late, after the window moved on
    expect(rec.durationMs).toBe(3000);
    const data = await wavOf(rec);
    expect(level(data, 0, 5)).toBeGreaterThan(0);
    expect(level(data, 0, 500)).toBe(0);
    expect(level(data, 0, 1005)).toBeGreaterThan(0);
    expect(level(data, 0, 1505)).toBeGreaterThan(0);
    expect(level(data, 0, 2000)).toBe(0);
  });

  it('writes the call to disk as it goes: memory holds a moment of it, not the call', async () => {
    const rec = new AudioRecorder(dir, 'CA1');
    for (let ms = 0; ms < 60_000; ms += 20) rec.caller(b64(20), ms);
    const track = join(dir, 'CA1.caller.ulaw');
    for (let i = 0; i < 200 && !(existsSync(track) && statSync(track).size >= 59_000 * 8); i++)
      await new Promise((r) => setTimeout(r, 10));
    // everything but the last half second is on disk before the call ends
    expect(statSync(track).size).toBeGreaterThanOrEqual(59_000 * 8);
    expect((await wavOf(rec)).length).toBe(60_000 * 8 * 4);
    expect(readdirSync(dir)).toEqual(['out.wav']);
  });

  it('a barge-in cuts agent audio already written out (the model sent a long answer early)', async () => {
    const rec = new AudioRecorder(dir, 'CA1');
    for (let i = 0; i < 10; i++) rec.agent(b64(1000), 0); // ten seconds queued at once
    await new Promise((r) => setTimeout(r, 50));
    rec.cleared(2000);
    rec.agent(b64(500), 2500);
    const data = await wavOf(rec);
    expect(data.length / 4).toBe(3000 * 8);
    expect(level(data, 1, 1900)).toBeGreaterThan(0);
    expect(level(data, 1, 2200)).toBe(0);
    expect(level(data, 1, 2700)).toBeGreaterThan(0);
  });

  it('a track that cannot be written fails the recording, not the call', async () => {
    const rec = new AudioRecorder(join(dir, 'missing'), 'CA1');
    rec.caller(b64(20), 0);
    await expect(rec.writeWav(join(dir, 'out.wav'))).rejects.toThrow(/ENOENT/);
    await rec.discard();
  });
});

const context = {
  agent: { name: 'a', hash: 'h', model: 'gpt-realtime', transcriptionModel: 'gpt-4o-mini-transcribe' },
  simulated: false,
  prices: MODEL_PRICES['gpt-realtime'],
  transcriptionPerMinute: 0.003,
  redact: false,
  now: () => Date.UTC(2026, 10, 25, 9, 0, 0),
};
const events: CallEvent[] = [
  { atMs: 0, type: 'started', callSid: 'CA1', streamId: 'MZ1', from: '+15551234567' },
  { atMs: 300, type: 'agent_speech_started', itemId: 'g' },
  { atMs: 300, type: 'latency', kind: 'greeting', ms: 300 },
  { atMs: 900, type: 'transcript', role: 'agent', text: 'Hello.', itemId: 'g' },
  { atMs: 1500, type: 'agent_speech_stopped', itemId: 'g', interrupted: false },
  { atMs: 2000, type: 'caller_speech_started' },
  { atMs: 3000, type: 'caller_speech_stopped' },
  { atMs: 3400, type: 'transcript', role: 'caller', text: 'A quote please.' },
  { atMs: 3600, type: 'agent_speech_started', itemId: 'a' },
  { atMs: 3600, type: 'latency', kind: 'turn', ms: 600 },
  { atMs: 3700, type: 'transcript', role: 'agent', text: 'Sure, how many rooms?', itemId: 'a' },
  { atMs: 4000, type: 'caller_speech_started' },
  { atMs: 4000, type: 'agent_speech_stopped', itemId: 'a', interrupted: true },
  { atMs: 4000, type: 'barge_in', cut: [{ itemId: 'a', heardMs: 400 }] },
  {
    atMs: 4100,
    type: 'usage',
    usage: {
      inputTextTokens: 1000,
      inputAudioTokens: 500,
      cachedTextTokens: 800,
      cachedAudioTokens: 0,
      outputTextTokens: 100,
      outputAudioTokens: 1000,
    },
  },
  { atMs: 5000, type: 'ended', outcome: { kind: 'completed', reason: 'bye' }, durationMs: 5000 },
];

describe('RecordBuilder', () => {
  it('turns a call’s events into its record: lines on the timeline, cut-offs, latency, cost', () => {
    const builder = new RecordBuilder(context, 'CA1');
    for (const e of events) builder.add(e);
    const r = builder.record;
    expect(r.transcript).toEqual([
      { role: 'agent', text: 'Hello.', startMs: 300, endMs: 1500 },
      { role: 'caller', text: 'A quote please.', startMs: 2000, endMs: 3000 },
      {
        role: 'agent',
        text: 'Sure, how many rooms?',
        startMs: 3600,
        endMs: 4000,
        interrupted: true,
        heardMs: 400,
      },
    ]);
    expect(r.latency).toEqual({ greetingMs: 300, turns: [{ atMs: 3600, ms: 600 }], p50Ms: 600, maxMs: 600 });
    expect(r.startedAt).toBe('2026-11-25T09:00:00.000Z');
    expect(r.endedAt).toBe('2026-11-25T09:00:05.000Z');
    // (200 text × $4 + 800 cached × $0.40 + 500 audio × $32 + 100 × $16 + 1000 × $64) / 1M
    expect(r.cost.model).toBeCloseTo(0.08272, 6);
    // caller speech: 1 s, then 1 s more until the end → 2 s at $0.003/min
    expect(r.cost.transcription).toBeCloseTo(0.0001, 6);
    expect(r.cost.total).toBeCloseTo(0.08282, 6);
  });

  it('the calls page shows the post-call outcome, a voicemail and who answered an outbound call', () => {
    const builder = new RecordBuilder(context, 'CA1');
    for (const e of events) builder.add(e);
    const r = builder.record;
    r.postCall = {
      model: 'gpt-5-mini',
      data: { move_date: '2027-03-16', total: 795, reference: null },
      durationMs: 900,
    };
    r.voicemail = {
      recordingUrl: 'https://api.twilio.com/x/Recordings/RE1',
      seconds: 12,
      transcript: 'Call me <back>',
    };
    r.direction = 'outbound';
    r.answeredBy = 'human';
    const html = callPage(r, {});
    expect(html).toContain('<h2>Outcome <small>gpt-5-mini</small></h2>');
    expect(html).toContain('<tr><th>move_date</th><td>2027-03-16</td></tr>');
    expect(html).toContain('<tr><th>total</th><td>795</td></tr>');
    expect(html).toContain('<tr><th>reference</th><td>—</td></tr>');
    expect(html).toContain('Call me &lt;back&gt;'); // escaped
    expect(html).toContain('<a href="https://api.twilio.com/x/Recordings/RE1">Recording</a> (12 s)');
    expect(html).toContain('<dt>Outbound</dt>');
    expect(html).toContain('(answered by: human)');
    r.postCall = { model: 'gpt-5-mini', error: 'no answer within 30000 ms', durationMs: 30_000 };
    expect(callPage(r, {})).toContain('Not available: no answer within 30000 ms');
  });

  it('a model without known prices gets no invented cost, and says why', () => {
    const cost = costOf({
      usage: {
        inputTextTokens: 1,
        inputAudioTokens: 1,
        cachedTextTokens: 0,
        cachedAudioTokens: 0,
        outputTextTokens: 1,
        outputAudioTokens: 1,
      },
      prices: undefined,
      callerSpeechMs: 0,
      transcriptionPerMinute: undefined,
    });
    expect(cost.total).toBeUndefined();
    expect(cost.note).toContain('records.prices');
  });
});

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
