import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { mulawTone } from '../../../src/audio/mulaw.js';
import { TwilioCaller } from '../../../src/lab/simulate/twilio-caller.js';
import { type Brain, type FakeRealtimeServer, startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import { eventually } from '../../helpers/call-harness.js';
import { ROOT, runCli } from '../../helpers/cli.js';
import { type ServeProcess, startServe } from '../../helpers/serve-process.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const AGENT = 'name: cli-test\ninstructions: Be brief.\ngreeting: Hello from the CLI.\n';
let fake: FakeRealtimeServer | undefined;
let serve: ServeProcess | undefined;

afterEach(async () => {
  serve?.child.kill('SIGKILL');
  serve = undefined;
  await fake?.close();
  fake = undefined;
});

/**
 * A model that books a move for Jane Doe: the booking tool at the caller's first turn, then, with its
 * output, "Shall I book it?" until the server says booked. Prompted again (by silence, say), it tries
 * the same booking once more, as a real model might.
 */
function bookingBrain(idempotencyKey: string): Brain {
  const booking = {
    customer_name: 'Jane Doe',
    phone: '+1 555 010 0199',
    from_address: '12 Elm St',
    to_address: '4 Oak Ave',
    move_date: new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10),
    slot: 'morning',
    idempotency_key: idempotencyKey,
  };
  return (ctx) => {
    const quoted = [...(ctx.instructions?.matchAll(/"([^"]+)"/g) ?? [])].at(-1)?.[1];
    if (ctx.trigger === 'create' && quoted) return { say: quoted };
    const last = ctx.toolOutputs.at(-1);
    if (last)
      return { say: JSON.parse(last.output).status === 'booked' ? "You're booked." : 'Shall I book it?' };
    return { call: [{ name: 'book_move', arguments: booking }] };
  };
}

describe('voice-agent serve (child process)', () => {
  it('serve agents/moving.yaml: the moving tools server starts and its tools work in a call', async () => {
    const inAWeek = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    fake = await startFakeRealtime({
      apiKey: 'sk-cli',
      brain: (ctx) =>
        ctx.callerTurns === 0
          ? { say: 'Swift Movers.' }
          : ctx.toolOutputs.length === 0
            ? {
                call: [
                  {
                    name: 'get_quote',
                    arguments: {
                      from_address: 'a st',
                      to_address: 'b st',
                      home_size: 'studio',
                      move_date: inAWeek,
                    },
                  },
                ],
              }
            : { say: 'That will be it.' },
    });
    const db = join(tmp(), 'moving.sqlite');
    serve = await startServe(['agents/moving.yaml', '--port', '0', '--host', '127.0.0.1'], {
      OPENAI_API_KEY: 'sk-cli',
      OPENAI_REALTIME_URL: fake.url,
      TWILIO_AUTH_TOKEN: 'cli-token',
      MOVING_DB: db,
    });
    expect(serve.stderr()).toContain('MCP server moving ready');
    const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: 'cli-token' });
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(400));
    await caller.waitForAgent({ timeoutMs: 15_000 });
    const rt = fake.callSessions()[0]!;
    const tools = (rt.sent('session.update')[0]!.session as { tools: { name: string }[] }).tools.map(
      (t) => t.name,
    );
    expect(tools).toContain('get_quote');
    const output = rt.sent('conversation.item.create').map((e) => (e.item as { output?: string }).output)[0]!;
    expect(JSON.parse(output)).toMatchObject({ quote_id: expect.stringMatching(/^Q-/), currency: 'USD' });
    expect(existsSync(db)).toBe(true);
    await caller.hangUp();
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('serve agents/moving.yaml keeps the bookings in the data directory, never beside the agent file', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-cli' });
    const data = join(tmp(), 'data');
    serve = await startServe(
      ['agents/moving.yaml', '--port', '0', '--host', '127.0.0.1', '--data-dir', data],
      {
        OPENAI_API_KEY: 'sk-cli',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: 'cli-token',
      },
    );
    expect(serve.stderr()).toContain('MCP server moving ready');
    expect(existsSync(join(data, 'moving.sqlite'))).toBe(true);
    expect(existsSync(join(ROOT, 'agents/moving.sqlite'))).toBe(false);
  });

  it('serve agents/moving.yaml on GPT-Live (MOVING_ENGINE=live): a caller books a move, confirmed first, in the tools server’s database', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-cli', brain: bookingBrain('serve-live-0001') });
    const db = join(tmp(), 'moving.sqlite');
    serve = await startServe(['agents/moving.yaml', '--port', '0', '--host', '127.0.0.1'], {
      OPENAI_API_KEY: 'sk-cli',
      OPENAI_LIVE_URL: fake.liveUrl,
      TWILIO_AUTH_TOKEN: 'cli-token',
      MOVING_DB: db,
      MOVING_ENGINE: 'live',
    });
    const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: 'cli-token' });
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    const live = fake.liveSessions[0]!;
    for (const answer of ['Shall I book it?', "You're booked."]) {
      await caller.speak(mulawTone(500));
      await caller.pause(1_000);
      await caller.waitForAgent({ timeoutMs: 15_000 });
      await eventually(() => live.spoken.some((s) => s.say === answer), 10_000);
    }
    const outputs = live
      .sent('response.item.create')
      .map((e) => JSON.parse((e.item as { output: string }).output).status);
    expect(outputs).toEqual(['confirmation_required', 'booked']); // nothing booked before the caller's yes
    await caller.hangUp();
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    const rows = new Database(db, { readonly: true })
      .prepare('SELECT customer_name, status FROM bookings')
      .all();
    expect(rows).toEqual([{ customer_name: 'Jane Doe', status: 'booked' }]);
  });

  it('no booking without a yes: silence after "Shall I book it?" (the idle timeout) is not a caller turn', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-cli', brain: bookingBrain('idle-0001') });
    const db = join(tmp(), 'moving.sqlite');
    serve = await startServe(['agents/moving.yaml', '--port', '0', '--host', '127.0.0.1'], {
      OPENAI_API_KEY: 'sk-cli',
      OPENAI_REALTIME_URL: fake.url,
      TWILIO_AUTH_TOKEN: 'cli-token',
      MOVING_DB: db,
    });
    const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: 'cli-token' });
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(500)); // "book it for me"
    const rt = fake.callSessions()[0]!;
    const outputs = () =>
      rt
        .sent('conversation.item.create')
        .filter((e) => (e.item as { type: string }).type === 'function_call_output')
        .map((e) => JSON.parse((e.item as { output: string }).output).status);
    // the caller says nothing: agents/moving.yaml's idle_timeout_ms (8 s) prompts the model
    await eventually(() => outputs().length >= 2, 25_000);
    expect(rt.idleTimeouts).toBe(1);
    expect(rt.callerTurns).toBe(1);
    expect(outputs()).toEqual(['confirmation_required', 'confirmation_required']);
    await caller.hangUp();
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    const rows = new Database(db, { readonly: true }).prepare('SELECT status FROM bookings').all();
    expect(rows).toEqual([]);
  });

  it('a container needs no flags: serve reads the agent file and every setting from VOICE_AGENT_* variables; a flag still wins', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-cli' });
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    serve = await startServe(
      [],
      {
        OPENAI_API_KEY: 'sk-cli',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: 'cli-token',
        VOICE_AGENT_FILE: 'agent.yaml',
        VOICE_AGENT_PORT: '0',
        VOICE_AGENT_HOST: '127.0.0.1',
        VOICE_AGENT_JSON_LOGS: 'true',
        VOICE_AGENT_SKIP_PREFLIGHT: 'yes',
        VOICE_AGENT_LOG_LEVEL: 'debug',
      },
      dir,
    );
    const lines = serve.stderr().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow(); // JSON logs, from the variable
    expect(fake.handshakes).toHaveLength(0); // the preflight was skipped
    const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: 'cli-token' });
    await caller.dial();
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await caller.hangUp();
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    // VOICE_AGENT_LOG_LEVEL=debug: the call's story is in the log
    const levels = serve
      .stderr()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).level);
    expect(levels).toContain(20); // pino's debug

    const wrong = await runCli(['serve', 'agent.yaml', '--port', '0'], {
      cwd: dir,
      env: { OPENAI_API_KEY: 'sk-cli', TWILIO_AUTH_TOKEN: 'cli-token', VOICE_AGENT_TUNNEL: 'maybe' },
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('VOICE_AGENT_TUNNEL: expected true or false, got "maybe"');
    const none = await runCli(['serve'], { cwd: dir, env: { VOICE_AGENT_FILE: '' } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('set VOICE_AGENT_FILE');
  });

  it('--json-logs prints only JSON lines; --metrics-port counts the call; the call is recorded', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-cli', callerTranscripts: ['Hello there'] });
    const dir = tmp();
    const dataDir = join(dir, 'data');
    writeFiles(dir, { 'agent.yaml': AGENT });
    serve = await startServe(
      [
        'agent.yaml',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--json-logs',
        '--metrics-port',
        '0',
        '--data-dir',
        dataDir,
      ],
      { OPENAI_API_KEY: 'sk-cli', OPENAI_REALTIME_URL: fake.url, TWILIO_AUTH_TOKEN: 'cli-token' },
      dir,
    );
    const listening = serve
      .stderr()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'listening')!;
    const metricsUrl = String(listening.metricsUrl);
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: 'cli-token' });
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    const during = await (await fetch(metricsUrl)).text();
    expect(during).toMatch(/^voice_agent_active_calls 1$/m);
    await caller.speak(mulawTone(600));
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.hangUp();
    const scrape = async () => (await fetch(metricsUrl)).text();
    let text = await scrape();
    for (let i = 0; i < 50 && !/voice_agent_calls_total\{outcome="completed"/.test(text); i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await scrape();
    }
    expect(text).toMatch(/^voice_agent_active_calls 0$/m);
    expect(text).toMatch(/^voice_agent_calls_total\{outcome="completed",code=""\} 1$/m);
    expect(text).toMatch(/^voice_agent_greeting_latency_seconds_count 1$/m);
    expect(text).toMatch(/^voice_agent_turn_latency_seconds_count 1$/m);
    expect(Number(/^voice_agent_cost_usd_total (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    // nothing but JSON lines, each with an ISO 8601 time
    expect(serve.stdout()).toBe('');
    const jsonLines = serve.stderr().split('\n').filter(Boolean);
    expect(jsonLines.length).toBeGreaterThan(0);
    for (const line of jsonLines) {
      const entry = JSON.parse(line) as { time: string };
      expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const list = await runCli(['calls', 'list', '--json', '--data-dir', dataDir]);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ callSid: caller.callSid, outcome: 'completed', simulated: false }),
    ]);
  });

  it('answers a real call end to end and exits 0 on SIGTERM', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-cli' });
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT, '.env': 'TWILIO_AUTH_TOKEN=cli-token\n' });
    serve = await startServe(
      ['agent.yaml', '--port', '0', '--host', '127.0.0.1'],
      {
        OPENAI_API_KEY: 'sk-cli',
        OPENAI_REALTIME_URL: fake.url,
      },
      dir,
    );
    expect(serve.stdout()).toMatch(/listening on 127\.0\.0\.1:\d+/);
    expect(serve.stdout()).toMatch(/Media stream: +ws:\/\/127\.0\.0\.1:\d+\/voice\/media/);

    const health = await fetch(serve.webhookUrl.replace('/voice/incoming', '/healthz'));
    expect(await health.json()).toMatchObject({ status: 'ok', active_calls: 0 });

    const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: 'cli-token' });
    await caller.dial();
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await caller.speak(mulawTone(400));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await caller.hangUp();

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(serve.stderr()).not.toContain('sk-cli');
    expect(serve.stderr()).not.toContain('cli-token');
    expect(serve.stderr()).toContain('incoming call');
  });

  it('a missing OPENAI_API_KEY is a clear startup error (exit 2)', async () => {
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    const result = await runCli(['serve', 'agent.yaml', '--port', '0'], {
      cwd: dir,
      env: { TWILIO_AUTH_TOKEN: 'x' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('OPENAI_API_KEY is not set');
  });

  it('a missing TWILIO_AUTH_TOKEN is required unless signatures are explicitly skipped', async () => {
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    const result = await runCli(['serve', 'agent.yaml', '--port', '0'], {
      cwd: dir,
      env: { OPENAI_API_KEY: 'sk-test-key' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('TWILIO_AUTH_TOKEN is not set');

    fake = await startFakeRealtime();
    serve = await startServe(
      ['agent.yaml', '--port', '0', '--host', '127.0.0.1', '--insecure-skip-signature'],
      {
        OPENAI_API_KEY: 'sk-test-key',
        OPENAI_REALTIME_URL: fake.url,
      },
      dir,
    );
    expect(serve.stderr()).toContain('WARNING: --insecure-skip-signature is on');
    const res = await fetch(serve.webhookUrl, {
      method: 'POST',
      body: new URLSearchParams({ CallSid: `CA${'1'.repeat(32)}` }),
    });
    expect(res.status).toBe(200);
  });

  it('a bad port is a usage error', async () => {
    const result = await runCli(['serve', 'agents/moving.yaml', '--port', 'eighty'], {
      env: { OPENAI_API_KEY: 'k', TWILIO_AUTH_TOKEN: 't' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--port: expected 0–65535, got "eighty"');
  });
});
