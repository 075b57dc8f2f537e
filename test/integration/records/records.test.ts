/// <reference lib="dom" />
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMulaw, mulawTone } from '../../../src/audio/mulaw.js';
import { parseWav } from '../../../src/audio/wav.js';
import type { VoiceServerOptions } from '../../../src/host/voice-server.js';
import { createLogger } from '../../../src/observability/logger.js';
import { CallRecords } from '../../../src/records/call-records.js';
import { openCallRecords, openCallStore } from '../../../src/records/open.js';
import { readAudio } from '../../../src/records/store.js';
import { signTwilioRequest } from '../../../src/telephony/twilio/signature.js';
import { AgentTools } from '../../../src/tools/agent-tools.js';
import { launchBrowser } from '../../helpers/browser.js';
import {
  AUTH_TOKEN,
  eventually,
  type Harness,
  startHarness,
  testAgent,
  transferThenTakeBack,
} from '../../helpers/call-harness.js';
import { BIN, runCli } from '../../helpers/cli.js';
import { recordReaders } from '../../helpers/ledger.js';
import { useTmpDir } from '../../helpers/tmp.js';

const tmp = useTmpDir();
let h: Harness | undefined;
let records: CallRecords | undefined;
afterEach(async () => {
  await h?.close();
  await records?.close();
  h = undefined;
  records = undefined;
});

const quietLogger = () => createLogger({ level: 'error', json: true, write: () => {} });

/** A served call with a greeting, one caller turn, a tool call and the answer, recorded in `dir`. */
async function recordedCall(
  dir: string,
  agent: Record<string, unknown> = {},
  extra: (records: CallRecords) => Partial<VoiceServerOptions> = () => ({}),
) {
  const config = testAgent(agent);
  records = openCallRecords({ agent: config, dir, logger: quietLogger() })!;
  const rec = records;
  h = await startHarness({
    agent,
    fake: {
      callerTranscripts: ['How much to move a two-bedroom flat on Friday?'],
      brain: (ctx) => {
        if (ctx.toolOutputs.length > 0) return { say: 'That would be 450 dollars.' };
        if (ctx.trigger === 'create') return { say: 'Hello, Swift Movers.' };
        return { call: [{ name: 'get_quote', arguments: { bedrooms: 2, date: 'Friday' } }] };
      },
    },
    server: {
      audioTap: (sid) => rec.audioTap(sid),
      ...recordReaders(config, rec),
      tools: {
        definitions: () => [
          { name: 'get_quote', description: 'A price.', parameters: { type: 'object', properties: {} } },
        ],
        forCall: () => ({
          execute: async () => {
            await new Promise((r) => setTimeout(r, 120));
            return { ok: true as const, output: '{"price_usd":450}' };
          },
        }),
      },
      ...extra(rec),
    },
  });
  const caller = h.caller({ from: '+15551234567', to: '+15557654321' });
  await caller.dial();
  await caller.waitForAgent({ timeoutMs: 10_000 });
  await caller.speak(mulawTone(800));
  await eventually(() => h!.callLog(caller.callSid).transcript.some((t) => t.text.includes('450')), 15_000);
  await caller.waitForAgent({ timeoutMs: 10_000 });
  await caller.hangUp();
  await eventually(() => h!.server.activeCalls === 0);
  await rec.flush();
  return { callSid: caller.callSid, store: rec.store };
}

describe('call records', () => {
  it('another process holding the SQLite lock never freezes calls; the records are written once it lets go', async () => {
    const dir = join(tmp(), 'data');
    let lock: Database.Database | undefined;
    // the event loop's longest stall while the lock is held (each waited-on statement used to spin 5 s)
    let last = performance.now();
    let longestStallMs = 0;
    const probe = setInterval(() => {
      const now = performance.now();
      longestStallMs = Math.max(longestStallMs, now - last);
      last = now;
    }, 20);
    try {
      const { callSid, store } = await recordedCall(dir, {}, () => {
        // an operator's sqlite3 shell, a backup, a second serve: it holds the write lock for the call
        lock = new Database(join(dir, 'calls.db'));
        lock.exec('BEGIN EXCLUSIVE');
        return {};
      });
      expect(longestStallMs).toBeLessThan(1_000);
      expect(await store.get(callSid)).toBeUndefined(); // nothing could be written yet
      lock!.exec('COMMIT');
      lock!.close();
      lock = undefined;
      for (let i = 0; i < 100 && (await store.get(callSid))?.outcome.kind !== 'completed'; i++)
        await new Promise((r) => setTimeout(r, 100));
      const record = (await store.get(callSid))!;
      expect(record.outcome.kind).toBe('completed');
      expect(record.audio?.file).toEqual(expect.any(String));
    } finally {
      clearInterval(probe);
      lock?.close();
    }
  });

  it('the records are private to the service: the data directory 0700, calls.db and recordings 0600, whatever the umask', async () => {
    const dir = join(tmp(), 'data');
    const { callSid, store } = await recordedCall(dir);
    const record = (await store.get(callSid))!;
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'calls.db'))).toBe(0o600);
    expect(mode(join(dir, 'recordings'))).toBe(0o700);
    expect(mode(join(dir, 'recordings', record.audio!.file))).toBe(0o600);
    for (const side of ['calls.db-wal', 'calls.db-shm'])
      if (existsSync(join(dir, side))) expect(mode(join(dir, side)), side).toBe(0o600);
  });

  it('a served call leaves a record: transcript with times, tool calls, latency, cost and both audio channels', async () => {
    const dir = tmp();
    const { callSid, store } = await recordedCall(dir);
    const record = (await store.get(callSid))!;
    expect(record).toMatchObject({
      callSid,
      agent: { name: 'test', model: 'gpt-realtime-2.1' },
      from: '+15551234567',
      to: '+15557654321',
      simulated: false,
      outcome: { kind: 'completed' },
    });
    expect(record.transcript.map((t) => [t.role, t.text])).toEqual([
      ['agent', 'Hello, Swift Movers.'],
      ['caller', 'How much to move a two-bedroom flat on Friday?'],
      ['agent', 'That would be 450 dollars.'],
    ]);
    // each line sits on the call's timeline, in order, with a length
    for (const line of record.transcript) expect(line.endMs).toBeGreaterThan(line.startMs);
    const starts = record.transcript.map((t) => t.startMs);
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);

    expect(record.toolCalls).toEqual([
      expect.objectContaining({
        name: 'get_quote',
        arguments: '{"bedrooms":2,"date":"Friday"}',
        output: '{"price_usd":450}',
        ok: true,
      }),
    ]);
    expect(record.toolCalls[0]!.durationMs).toBeGreaterThanOrEqual(100);

    expect(record.latency.greetingMs).toBeGreaterThan(0);
    expect(record.latency.turns).toHaveLength(1);
    expect(record.latency.turns[0]!.ms).toBeGreaterThanOrEqual(100); // the tool alone took 120 ms
    expect(record.usage.responses).toBeGreaterThanOrEqual(3);
    expect(record.usage.outputAudioTokens).toBeGreaterThan(0);
    expect(record.cost.total).toBeGreaterThan(0);
    expect(record.cost.model).toBeGreaterThan(0);

    // the recording: stereo, as long as the call, caller on the left when they spoke, agent on the right
    const wav = (await readAudio(await store.audio(callSid)))!;
    const { channels, sampleRate, data } = parseWav(wav);
    expect([channels, sampleRate]).toEqual([2, 8000]);
    const frames = data.length / 4;
    expect(Math.abs(frames / 8 - record.audio!.durationMs)).toBeLessThan(50);
    expect(record.audio!.durationMs).toBeGreaterThan(record.durationMs - 1_500);
    const energy = (channel: 0 | 1, fromMs: number, toMs: number) => {
      let sum = 0;
      for (let i = fromMs * 8; i < toMs * 8; i++) sum += Math.abs(data.readInt16LE((i * 2 + channel) * 2));
      return sum / ((toMs - fromMs) * 8);
    };
    const callerSpeech = record.speech.find((s) => s.role === 'caller')!;
    const greeting = record.speech.find((s) => s.role === 'agent')!;
    expect(energy(0, callerSpeech.startMs, callerSpeech.startMs + 300)).toBeGreaterThan(1_000);
    expect(energy(1, greeting.startMs + 100, greeting.startMs + 400)).toBeGreaterThan(1_000);
    expect(energy(1, callerSpeech.startMs, callerSpeech.startMs + 300)).toBeLessThan(50); // agent quiet then
  });

  it('a voicemail left after an unanswered transfer joins the call record: recording URL, then transcript', async () => {
    const dir = tmp();
    const agentFile = { tools: { transfer_call: { to: '+15550009999' } } };
    const config = testAgent(agentFile);
    records = openCallRecords({ agent: config, dir, logger: quietLogger() })!;
    h = await startHarness({
      agent: agentFile,
      fake: {
        brain: (ctx) =>
          ctx.callerTurns === 0
            ? { say: 'Hello.' }
            : { say: 'Connecting you.', call: [{ name: 'transfer_call', arguments: {} }] },
      },
      server: { ...recordReaders(config, records), tools: new AgentTools(config, undefined) },
    });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(400));
    expect(await caller.outcome()).toMatchObject({ kind: 'dial', number: '+15550009999' });
    const base = h.server.publicUrl;
    const twilioPost = (path: string, params: Record<string, string>, signed = true) =>
      fetch(base + path, {
        method: 'POST',
        body: new URLSearchParams(params),
        headers: {
          'x-twilio-signature': signed ? signTwilioRequest(AUTH_TOKEN, base + path, params) : 'forged',
        },
      });
    const call = { CallSid: caller.callSid, AccountSid: caller.accountSid };
    const offer = await (
      await twilioPost('/voice/dial-ended', { ...call, DialCallStatus: 'no-answer' })
    ).text();
    expect(offer).toContain('transcribe="true"');
    expect(offer).toContain(`transcribeCallback="${base}/voice/message-transcribed"`);

    const recordingUrl = `https://api.twilio.com/2010-04-01/Accounts/${caller.accountSid}/Recordings/RE0123`;
    const recorded = { ...call, RecordingUrl: recordingUrl, RecordingDuration: '14', RecordingSid: 'RE0123' };
    expect((await twilioPost('/voice/message-recorded', recorded, false)).status).toBe(403);
    expect(await (await twilioPost('/voice/message-recorded', recorded)).text()).toContain(
      'we got your message',
    );
    const transcribed = {
      ...call,
      TranscriptionStatus: 'completed',
      TranscriptionText: 'Please call me back about the piano.',
    };
    expect((await twilioPost('/voice/message-transcribed', transcribed)).status).toBe(204);

    await records.flush();
    const record = (await records.store.get(caller.callSid))!;
    expect(record.outcome.kind).toBe('transfer');
    expect(record.voicemail).toEqual({
      recordingUrl,
      seconds: 14,
      transcript: 'Please call me back about the piano.',
      transcriptStatus: 'completed',
    });
    const shown = await runCli(['calls', 'show', caller.callSid, '--data-dir', dir]);
    expect(shown.stdout).toContain(
      `Voicemail\n  ${recordingUrl} (14 s)\n  Please call me back about the piano.`,
    );
  });

  it('on_no_answer: agent — after a transfer nobody answered, the caller is back with the agent, in the same record and recording', async () => {
    const dir = tmp();
    const agentFile = {
      tools: { transfer_call: { to: '+15550009999', on_no_answer: 'agent' }, take_message: true },
    };
    const config = testAgent(agentFile);
    records = openCallRecords({ agent: config, dir, logger: quietLogger() })!;
    h = await startHarness({
      agent: agentFile,
      fake: { brain: transferThenTakeBack },
      server: {
        ...recordReaders(config, records),
        audioTap: (sid) => records!.audioTap(sid),
        tools: new AgentTools(config, undefined),
      },
    });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(400));
    expect(await caller.outcome()).toMatchObject({ kind: 'dial', number: '+15550009999' });

    // nobody answered: Twilio requests the <Dial action>, which connects the same call to the agent again
    const back = h.caller({
      webhookUrl: `${h.server.publicUrl}/voice/dial-ended`,
      placed: { callSid: caller.callSid },
    });
    await back.dial();
    expect(await back.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    const second = h.fake.callSessions()[1]!;
    const instructions = (second.sent('session.update')[0] as { session: { instructions: string } }).session
      .instructions;
    expect(instructions).toContain('was transferred, but nobody answered');
    await back.speak(mulawTone(400));
    await eventually(() => [...second.responses].some((r) => r.say === 'Of course.'), 10_000);
    await back.waitForAgent({ timeoutMs: 10_000 });
    await back.hangUp();
    await eventually(() => h!.server.activeCalls === 0);
    await records.flush();

    const record = (await records.store.get(caller.callSid))!;
    expect(record.outcome.kind).toBe('completed');
    expect(record.transcript.filter((t) => t.role === 'agent').map((t) => t.text)).toEqual([
      'Hello, thanks for calling.',
      'Connecting you.',
      "I'm sorry, nobody could come to the phone just now. I can take a message for them, or help you with something else.",
      'Of course.',
    ]);
    const starts = record.transcript.map((t) => t.startMs);
    expect([...starts].sort((a, b) => a - b)).toEqual(starts); // one timeline across both legs
    expect(record.toolCalls.map((t) => t.name)).toEqual(['transfer_call']);
    // the recording holds both legs: as long as the whole call
    expect(record.audio!.durationMs).toBeGreaterThan(record.durationMs - 1_500);
    const callerSpans = record.speech.filter((s) => s.role === 'caller');
    expect(callerSpans).toHaveLength(2);
    expect(callerSpans[1]!.startMs).toBeGreaterThan(callerSpans[0]!.startMs + 500);
  });

  it('`calls list`, `calls show` and `calls export` work on the record from the real CLI', async () => {
    const dir = tmp();
    const { callSid } = await recordedCall(dir);
    await records!.close();
    records = undefined;

    const list = await runCli(['calls', 'list', '--data-dir', dir]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(callSid);
    expect(list.stdout).toContain('+1********67'); // masked in listings
    expect(list.stdout).not.toContain('+15551234567');
    expect(list.stdout).toContain('get_quote');

    const json = await runCli(['calls', 'list', '--data-dir', dir, '--outcome', 'failed', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([]);

    const show = await runCli(['calls', 'show', callSid, '--data-dir', dir]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('How much to move a two-bedroom flat on Friday?');
    expect(show.stdout).toMatch(/get_quote ok in \d+ ms/);
    expect(show.stdout).toMatch(/cost {6}\$\d+\.\d{4}/);

    const out = join(tmp(), 'export');
    const exported = await runCli(['calls', 'export', callSid, '--out', out, '--data-dir', dir]);
    expect(exported.code).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual(['call.wav', 'caller-turn-01.ulaw', 'record.json']);
    const turn = readFileSync(join(out, 'caller-turn-01.ulaw'));
    // the caller's 800 ms tone, with a little margin either side, as μ-law that simulate can replay
    expect(turn.length / 8).toBeGreaterThan(700);
    const loud = decodeMulaw(turn).filter((s) => Math.abs(s) > 4_000).length;
    expect(loud / 8).toBeGreaterThan(300);
    expect(exported.stdout).toContain(`--audio ${join(out, 'caller-turn-01.ulaw')}`);

    // `calls ui`: the same page for the data directory, on loopback, without a login
    const ui = spawn(process.execPath, [BIN, 'calls', 'ui', '--port', '0', '--data-dir', dir], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        ui.stdout.on('data', (d) => {
          out += d;
          const m = /(http:\/\/127\.0\.0\.1:\d+\/calls)/.exec(out);
          if (m) resolve(m[1]!);
        });
        ui.once('exit', (code) => reject(new Error(`calls ui exited with ${code}`)));
      });
      const listHtml = await (await fetch(url)).text();
      expect(listHtml).toContain(callSid);
      expect(await (await fetch(`${url}/${callSid}`)).text()).toContain('That would be 450 dollars.');
    } finally {
      ui.kill('SIGTERM');
    }

    const missing = await runCli(['calls', 'show', 'CAnope', '--data-dir', dir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no call CAnope');
    const empty = await runCli(['calls', 'list', '--data-dir', join(tmp(), 'nothing-here')]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no calls recorded in');
  });

  it('records.audio false keeps the transcript and no recording; redact keeps lengths only', async () => {
    const dir = tmp();
    const { callSid, store } = await recordedCall(dir, { records: { audio: false, redact: true } });
    const record = (await store.get(callSid))!;
    expect(record.audio).toBeUndefined();
    expect(await store.audio(callSid)).toBeUndefined();
    expect(record.transcript[1]!.text).toBe('[46 chars redacted]');
    expect(record.toolCalls[0]!.arguments).toMatch(/chars redacted/);
  });

  it('a data directory that cannot be used turns records off with a clear warning, not the agent', () => {
    const file = join(tmp(), 'not-a-dir');
    writeFileSync(file, 'x');
    const logs: string[] = [];
    const opened = openCallRecords({
      agent: testAgent(),
      dir: file,
      logger: createLogger({ level: 'warn', json: true, write: (l) => logs.push(l) }),
    });
    expect(opened).toBeUndefined();
    expect(logs.join('\n')).toContain('call records are off: the data directory cannot be used');
  });

  it('a store that cannot write (read-only directory) does not break the call', async () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere: make the store fail another way, by closing it under the recorder
      const dir = tmp();
      const { store } = await recordedCallWithBrokenStore(dir);
      expect(store).toBeDefined();
      return;
    }
    const dir = tmp();
    openCallStore(dir); // created, then made read-only
    chmodSync(dir, 0o500);
    chmodSync(join(dir, 'calls.db'), 0o400);
    try {
      const { callSid } = await recordedCall(dir);
      expect(h!.callLog(callSid).outcome).toMatchObject({ kind: 'completed' });
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});

const ADMIN = 'admin-token-0123456789abcdef';

describe('the calls page, in a real browser', () => {
  it('nothing is readable without the token; after login the list, the call page, its timeline and audio work', async () => {
    const dir = tmp();
    const { callSid, store } = await recordedCall(dir, {}, (rec) => ({
      callsPage: { store: rec.store, adminToken: ADMIN },
    }));
    const base = h!.server.localUrl;
    // without the token: the page sends to the login form, the API and the audio refuse
    const page = await fetch(`${base}/calls/${callSid}`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/calls/login');
    expect((await fetch(`${base}/api/calls`)).status).toBe(401);
    expect((await fetch(`${base}/calls/${callSid}/audio.wav`, { redirect: 'manual' })).status).toBe(303);
    const wrongBearer = await fetch(`${base}/api/calls`, { headers: { authorization: 'Bearer nope' } });
    expect(wrongBearer.status).toBe(401);
    // scripts: a bearer token
    const api = await fetch(`${base}/api/calls/${callSid}`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(((await api.json()) as { callSid: string }).callSid).toBe(callSid);

    const browser = await launchBrowser();
    try {
      const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await tab.goto(`${base}/calls`);
      expect(tab.url()).toBe(`${base}/calls/login`);
      await tab.fill('input[name=token]', 'wrong-token-0000000000');
      await tab.click('button[type=submit]');
      await tab.waitForSelector('text=That token is not right.');
      await tab.fill('input[name=token]', ADMIN);
      await Promise.all([tab.waitForURL(`${base}/calls`), tab.click('button[type=submit]')]);
      // the session cookie is HttpOnly: no script on the page can read it
      expect(await tab.evaluate(() => document.cookie)).toBe('');
      const row = tab.locator('tr.call', { hasText: callSid });
      await expect.poll(() => row.count()).toBe(1);
      expect(await row.innerText()).toContain('get_quote');
      expect(await row.innerText()).toContain('+1********67');
      if (process.env.UPDATE_SCREENSHOTS) await tab.screenshot({ path: 'docs/calls-list.png' });

      await Promise.all([tab.waitForURL(`${base}/calls/${callSid}`), row.locator('a').click()]);
      expect(await tab.locator('.transcript').innerText()).toContain(
        'How much to move a two-bedroom flat on Friday?',
      );
      expect(await tab.locator('svg.timeline rect.speech.caller').count()).toBe(1);
      expect(await tab.locator('svg.timeline rect.speech.agent').count()).toBeGreaterThanOrEqual(2);
      expect(await tab.locator('svg.timeline rect.tool').count()).toBe(1);
      expect(await tab.locator('table.tools').innerText()).toContain('{"price_usd":450}');

      // the recording plays: its length is the call's, and its clock moves
      const record = (await store.get(callSid))!;
      const seconds = await tab.evaluate(
        () =>
          new Promise<number>((resolve, reject) => {
            const audio = document.querySelector('audio')!;
            if (audio.readyState >= 1) resolve(audio.duration);
            audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
            audio.addEventListener('error', () => reject(new Error('audio failed to load')));
            audio.load();
          }),
      );
      expect(Math.abs(seconds - record.audio!.durationMs / 1000)).toBeLessThan(0.1);
      const played = await tab.evaluate(async () => {
        const audio = document.querySelector('audio')!;
        audio.muted = true;
        await audio.play();
        await new Promise((r) => setTimeout(r, 600));
        audio.pause();
        return audio.currentTime;
      });
      expect(played).toBeGreaterThan(0.2);
      if (process.env.UPDATE_SCREENSHOTS)
        await tab.screenshot({ path: 'docs/call-page.png', fullPage: true });
    } finally {
      await browser.close();
    }
  }, 60_000);
});

/** The store is closed before the call: every write fails; the call must still complete. */
async function recordedCallWithBrokenStore(dir: string) {
  const logs: string[] = [];
  const agent = testAgent();
  records = new CallRecords({
    store: openCallStore(dir),
    agent,
    logger: createLogger({ level: 'error', json: true, write: (l) => logs.push(l) }),
  });
  await records.store.close();
  const rec = records;
  h = await startHarness({
    server: { audioTap: (sid) => rec.audioTap(sid), ...recordReaders(agent, rec) },
  });
  const caller = h.caller();
  await caller.dial();
  expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
  await caller.speak(mulawTone(500));
  expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
  await caller.hangUp();
  await eventually(() => h!.server.activeCalls === 0);
  await rec.flush();
  expect(h.callLog(caller.callSid).outcome).toMatchObject({ kind: 'completed' });
  expect(logs.join('\n')).toContain('could not write call records; the calls are not affected');
  expect(existsSync(join(dir, 'calls.db'))).toBe(true);
  records = undefined; // already closed
  return { store: rec.store };
}
