import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mulawTone } from '../../../src/audio/mulaw.js';
import { TwilioCaller } from '../../../src/lab/simulate/twilio-caller.js';
import { signTwilioRequest } from '../../../src/telephony/twilio/signature.js';
import { type FakeRealtimeServer, startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import { eventually, transferThenTakeBack } from '../../helpers/call-harness.js';
import { runCli } from '../../helpers/cli.js';
import { usePostgres } from '../../helpers/postgres.js';
import { type ServeProcess, startServe } from '../../helpers/serve-process.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

/**
 * Many cores and many servers: `serve --workers` on one machine (the data directory's SQLite
 * shared), and two `serve` processes sharing one real PostgreSQL, with a call's webhook on one and
 * its stream on the other, as behind a load balancer without sticky sessions.
 */
const tmp = useTmpDir();
const TOKEN = 'scale-token';
const AGENT = 'name: scale-test\ninstructions: Be brief.\ngreeting: Hello from a worker.\n';
let fake: FakeRealtimeServer | undefined;
const serves: ServeProcess[] = [];

afterEach(async () => {
  for (const serve of serves.splice(0)) serve.child.kill('SIGKILL');
  await fake?.close();
  fake = undefined;
});

/** The JSON log lines of a serve. */
function logLines(serve: ServeProcess): Record<string, unknown>[] {
  return serve
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('serve --workers', () => {
  it('two workers on one port: calls cross workers, metrics add up, SIGTERM drains both, every call is recorded', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-w' });
    const dir = tmp();
    const dataDir = join(dir, 'data');
    writeFiles(dir, { 'agent.yaml': AGENT });
    const serve = await startServe(
      [
        'agent.yaml',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--workers',
        '2',
        '--json-logs',
        '--metrics-port',
        '0',
      ],
      {
        OPENAI_API_KEY: 'sk-w',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: TOKEN,
        VOICE_AGENT_DATA_DIR: dataDir,
      },
      dir,
    );
    serves.push(serve);
    const listening = logLines(serve).find((l) => l.msg === 'listening')!;
    expect(listening.workers).toBe(2);

    const callSids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: TOKEN });
      await caller.dial();
      expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
      await caller.hangUp();
      callSids.push(caller.callSid);
    }
    // which worker answered each call's webhook, and which took its stream
    const workerOf = (callSid: string, msg: string) =>
      logLines(serve).find((l) => l.callSid === callSid && l.msg === msg)?.worker;
    await eventually(() => callSids.every((sid) => workerOf(sid, 'media stream started') !== undefined));
    const pairs = callSids.map((sid) => [
      workerOf(sid, 'incoming call'),
      workerOf(sid, 'media stream started'),
    ]);
    expect(new Set(pairs.flat())).toEqual(new Set([1, 2]));
    expect(pairs.some(([webhook, stream]) => webhook !== stream)).toBe(true);

    // the primary's /metrics is the sum of both workers
    const metricsUrl = String(listening.metricsUrl);
    let text = '';
    for (let i = 0; i < 50; i++) {
      text = await (await fetch(metricsUrl)).text();
      if (/^voice_agent_calls_total\{outcome="completed",code=""\} 4$/m.test(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(text).toMatch(/^voice_agent_calls_total\{outcome="completed",code=""\} 4$/m);
    expect(text).toMatch(/^voice_agent_active_calls 0$/m);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    const list = await runCli(['calls', 'list', '--json', '--data-dir', dataDir]);
    expect((JSON.parse(list.stdout) as { callSid: string }[]).map((c) => c.callSid).sort()).toEqual(
      [...callSids].sort(),
    );
  }, 60_000);

  it('a worker that dies is replaced; the others keep taking calls', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-w' });
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    const serve = await startServe(
      ['agent.yaml', '--port', '0', '--host', '127.0.0.1', '--workers', '2', '--json-logs'],
      {
        OPENAI_API_KEY: 'sk-w',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: TOKEN,
        VOICE_AGENT_DATA_DIR: join(dir, 'data'),
      },
      dir,
    );
    serves.push(serve);
    const workers = () =>
      readdirSync(`/proc/${serve.child.pid}/task`).flatMap((task) =>
        readFileSync(`/proc/${serve.child.pid}/task/${task}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean),
      );
    const before = workers();
    expect(before).toHaveLength(2);
    process.kill(Number(before[0]), 'SIGKILL');
    await eventually(() => logLines(serve).some((l) => l.msg === 'a worker died; starting another'));
    await eventually(() => workers().length === 2 && !workers().includes(before[0]!), 10_000);
    for (let i = 0; i < 2; i++) {
      const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: TOKEN });
      await caller.dial();
      expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
      await caller.hangUp();
    }
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  }, 60_000);

  it('the primary killed: its workers drain their live calls instead of cutting them, then exit', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-w' });
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    const serve = await startServe(
      ['agent.yaml', '--port', '0', '--host', '127.0.0.1', '--workers', '2', '--json-logs'],
      {
        OPENAI_API_KEY: 'sk-w',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: TOKEN,
        VOICE_AGENT_DATA_DIR: join(dir, 'data'),
      },
      dir,
    );
    serves.push(serve);
    const workers = readdirSync(`/proc/${serve.child.pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${serve.child.pid}/task/${task}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
    expect(workers).toHaveLength(2);
    try {
      const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: TOKEN });
      await caller.dial();
      expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
      serve.child.kill('SIGKILL'); // the primary, as a crash or an OOM kill would
      await serve.exited;
      await caller.pause(1_000);
      // the worker holding the call is still there, and so is the call
      await caller.speak(mulawTone(500));
      expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
      await caller.hangUp();
      // with no call left, both workers finish on their own
      await eventually(() => workers.every((pid) => !existsSync(`/proc/${pid}`)), 15_000);
    } finally {
      for (const pid of workers) if (existsSync(`/proc/${pid}`)) process.kill(Number(pid), 'SIGKILL');
    }
  }, 60_000);

  it('--workers must be a count or auto', async () => {
    writeFiles(tmp(), { 'agent.yaml': AGENT });
    const run = await runCli(['serve', 'agent.yaml', '--workers', 'many'], {
      cwd: tmp(),
      env: { OPENAI_API_KEY: 'sk', TWILIO_AUTH_TOKEN: TOKEN },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--workers: expected 1–64 or auto, got "many"');
  });
});

describe('two servers sharing PostgreSQL', () => {
  const postgres = usePostgres();
  /** As behind a load balancer: one public URL for both servers, the URL Twilio signs. */
  const publicUrl = 'http://127.0.0.1:9';

  /** Two serve processes for `dir`'s agent on one database; where this machine reaches each. */
  async function twoServers(dir: string, databaseUrl: string, env: Record<string, string> = {}) {
    const start = () =>
      startServe(
        ['agent.yaml', '--port', '0', '--host', '127.0.0.1', '--public-url', publicUrl, '--json-logs'],
        {
          OPENAI_API_KEY: 'sk-pg',
          OPENAI_REALTIME_URL: fake!.url,
          TWILIO_AUTH_TOKEN: TOKEN,
          DATABASE_URL: databaseUrl,
          ...env,
        },
        dir,
      );
    const [a, b] = await Promise.all([start(), start()]);
    serves.push(a, b);
    const hostOf = (serve: ServeProcess) =>
      String(logLines(serve).find((l) => l.msg === 'listening')!.address);
    return { a, b, hostA: hostOf(a), hostB: hostOf(b) };
  }

  it('a call whose webhook hits one server and whose stream hits the other; the limit holds across both; a replayed token is refused; one calls list', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-pg' });
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': `${AGENT}call:\n  max_concurrent: 1\n` });
    const databaseUrl = await postgres().database('two_servers');
    const { a, b, hostA, hostB } = await twoServers(dir, databaseUrl);
    // webhooks (and the action request) reach A, the media stream reaches B
    const reach = (url: string) =>
      url.replace('127.0.0.1:9', url.includes('/voice/media') ? hostB : hostA).replace(/^ws:/, 'ws:');

    const first = new TwilioCaller({ webhookUrl: `${publicUrl}/voice/incoming`, authToken: TOKEN, reach });
    await first.dial();
    expect(await first.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    expect(logLines(a).some((l) => l.callSid === first.callSid && l.msg === 'incoming call')).toBe(true);
    expect(logLines(b).some((l) => l.callSid === first.callSid && l.msg === 'media stream started')).toBe(
      true,
    );

    // max_concurrent: 1 across both servers: a second caller, on B, hears the fallback at once
    const second = new TwilioCaller({
      webhookUrl: `${publicUrl}/voice/incoming`,
      authToken: TOKEN,
      reach: (url) => url.replace('127.0.0.1:9', hostB),
    });
    await expect(second.dial()).rejects.toThrow(/did not answer with <Connect><Stream>/);
    expect(
      logLines(b).some((l) => l.msg === 'call.max_concurrent reached: answering with the fallback'),
    ).toBe(true);

    // the first call's webhook again (a replay) on A, then its stream on A: the token is spent
    const webhook = `${publicUrl}/voice/incoming`;
    const params = { CallSid: first.callSid, From: '+15550001111', To: '+15550002222' };
    const replayed = await fetch(webhook.replace('127.0.0.1:9', hostA), {
      method: 'POST',
      headers: { 'x-twilio-signature': signTwilioRequest(TOKEN, webhook, params) },
      body: new URLSearchParams(params),
    });
    const token = /name="token" value="([^"]+)"/.exec(await replayed.text())?.[1];
    expect(token).toBeDefined();
    const streamUrl = `ws://127.0.0.1:9/voice/media`;
    const ws = new WebSocket(streamUrl.replace('127.0.0.1:9', hostA), {
      headers: { 'x-twilio-signature': signTwilioRequest(TOKEN, streamUrl, {}) },
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        streamSid: `MZ${'1'.repeat(32)}`,
        start: {
          accountSid: `AC${'1'.repeat(32)}`,
          streamSid: `MZ${'1'.repeat(32)}`,
          callSid: first.callSid,
          tracks: ['inbound'],
          customParameters: { token: token!, callSid: first.callSid },
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      }),
    );
    expect(await new Promise((resolve) => ws.once('close', resolve))).toBe(1008);
    await eventually(() =>
      logLines(a).some((l) => l.reason === 'a token already used (a replayed or duplicate stream)'),
    );

    await first.speak(mulawTone(300));
    await first.waitForAgent({ timeoutMs: 10_000 });
    await first.hangUp();
    // now a call on B gets in, streamed on A this time
    const third = new TwilioCaller({
      webhookUrl: `${publicUrl}/voice/incoming`,
      authToken: TOKEN,
      reach: (url) => url.replace('127.0.0.1:9', url.includes('/voice/media') ? hostA : hostB),
    });
    await eventually(async () => {
      try {
        await third.dial();
        return true;
      } catch {
        return false; // the first call's end is being written
      }
    });
    expect(await third.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await third.hangUp();

    for (const serve of [a, b]) serve.child.kill('SIGTERM');
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
    const list = await runCli(['calls', 'list', '--json'], { env: { DATABASE_URL: databaseUrl } });
    expect((JSON.parse(list.stdout) as { callSid: string }[]).map((c) => c.callSid).sort()).toEqual(
      [first.callSid, third.callSid].sort(),
    );
  }, 60_000);

  it('an operator hangs up a call on any server: the server holding its stream ends it', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-pg' });
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    const databaseUrl = await postgres().database('control');
    const admin = 'admin-token-0123456789';
    const { b, hostA, hostB } = await twoServers(dir, databaseUrl, { VOICE_AGENT_ADMIN_TOKEN: admin });
    const caller = new TwilioCaller({
      webhookUrl: `${publicUrl}/voice/incoming`,
      authToken: TOKEN,
      reach: (url) => url.replace('127.0.0.1:9', url.includes('/voice/media') ? hostB : hostA),
    });
    await caller.dial();
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    const auth = { authorization: `Bearer ${admin}` };
    // A lists the call B holds
    const live = (await (await fetch(`http://${hostA}/api/live-calls`, { headers: auth })).json()) as {
      calls: { callSid: string; state: string; instance: string }[];
    };
    expect(live.calls).toEqual([
      expect.objectContaining({
        callSid: caller.callSid,
        state: 'streaming',
        instance: expect.stringContaining(':'),
      }),
    ]);
    expect((await fetch(`http://${hostA}/api/live-calls`)).status).toBe(401);
    const hangUp = await fetch(`http://${hostA}/calls/${caller.callSid}/hangup`, {
      method: 'POST',
      headers: auth,
    });
    expect(await hangUp.json()).toEqual({ callSid: caller.callSid, ended: 'sent to the process holding it' });
    expect(await caller.closed()).toBe('server');
    expect((await caller.outcome()).kind).toBe('hangup');
    await eventually(() =>
      logLines(b).some((l) => l.callSid === caller.callSid && String(l.msg).includes('ended by an operator')),
    );
    const again = await fetch(`http://${hostA}/calls/${caller.callSid}/hangup`, {
      method: 'POST',
      headers: auth,
    });
    expect(again.status).toBe(404);
  }, 60_000);

  it('a caller back from an unanswered transfer on the other server goes on in the same record', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-pg', brain: transferThenTakeBack });
    const dir = tmp();
    writeFiles(dir, {
      'agent.yaml': `${AGENT}tools:\n  transfer_call: { to: '+15550009999', on_no_answer: agent }\n  take_message: true\n`,
    });
    const databaseUrl = await postgres().database('transfer');
    const { hostA, hostB } = await twoServers(dir, databaseUrl);
    const to = (host: string) => (url: string) => url.replace('127.0.0.1:9', host);
    const caller = new TwilioCaller({
      webhookUrl: `${publicUrl}/voice/incoming`,
      authToken: TOKEN,
      reach: to(hostA),
    });
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(400));
    expect(await caller.outcome()).toMatchObject({ kind: 'dial', number: '+15550009999' });
    // the transfer rings while A writes the first leg's record
    const list = () =>
      runCli(['calls', 'show', caller.callSid, '--json'], { env: { DATABASE_URL: databaseUrl } });
    await eventually(async () => (await list()).stdout.includes('"kind": "transfer"'), 10_000);

    // nobody answered: Twilio's <Dial action> reaches B, which takes the caller back
    const back = new TwilioCaller({
      webhookUrl: `${publicUrl}/voice/dial-ended`,
      authToken: TOKEN,
      placed: { callSid: caller.callSid },
      reach: to(hostB),
    });
    await back.dial();
    expect(await back.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await back.speak(mulawTone(400));
    await back.waitForAgent({ timeoutMs: 10_000 });
    await back.hangUp();
    await eventually(async () => (await list()).stdout.includes('"kind": "completed"'), 10_000);
    const record = JSON.parse((await list()).stdout) as {
      transcript: { role: string; text: string }[];
      toolCalls: { name: string }[];
    };
    expect(record.transcript.filter((t) => t.role === 'agent').map((t) => t.text)).toEqual([
      'Hello from a worker.',
      'Connecting you.',
      "I'm sorry, nobody could come to the phone just now. I can take a message for them, or help you with something else.",
      'Of course.',
    ]);
    expect(record.toolCalls.map((t) => t.name)).toEqual(['transfer_call']);
  }, 60_000);

  it('a DATABASE_URL that cannot be reached is a clear startup error, without its password', async () => {
    writeFiles(tmp(), { 'agent.yaml': AGENT });
    const run = await runCli(['serve', 'agent.yaml', '--port', '0'], {
      cwd: tmp(),
      env: {
        OPENAI_API_KEY: 'sk',
        TWILIO_AUTH_TOKEN: TOKEN,
        DATABASE_URL: 'postgres://app:hunter2-secret@127.0.0.1:1/calls',
        VOICE_AGENT_SKIP_PREFLIGHT: 'true',
      },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('cannot use the database at postgres://app:***@127.0.0.1:1/calls');
    expect(run.stderr).not.toContain('hunter2');
  });
});
