import type { SessionStartEvent } from 'openai/resources/live/live';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mulawTone } from '../../../src/audio/mulaw.js';
import type { ModelEvent } from '../../../src/bridge/ports.js';
import { LiveModelSession } from '../../../src/model/live/model-session.js';
import { buildSessionStart } from '../../../src/model/live/session-start.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { Brain } from '../../fakes/fake-realtime-server.js';
import { type FakeRealtimeServer, startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import { API_KEY, eventually, type Harness, startHarness, testAgent } from '../../helpers/call-harness.js';

let h: Harness | undefined;
let fake: FakeRealtimeServer | undefined;
afterEach(async () => {
  await h?.close();
  await fake?.close();
  h = fake = undefined;
});

const LIVE = { engine: 'live' };

/** Opens a raw socket to the GPT-Live stand-in and collects what it answers. */
async function rawLive(url: string, key = API_KEY) {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${key}` } });
  const got: Record<string, unknown>[] = [];
  ws.on('message', (d) => got.push(JSON.parse(d.toString())));
  const closed = new Promise<void>((r) => ws.once('close', () => r()));
  const status = await new Promise<number>((resolve) => {
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
  });
  return { ws, got, closed, status };
}

const start = (session: Record<string, unknown>) => JSON.stringify({ type: 'session.start', session });
const errorOf = (got: Record<string, unknown>[]) =>
  got.find((e) => e.type === 'error')?.error as { code: string; message: string };

describe('the GPT-Live engine', () => {
  it('the stand-in refuses what GPT-Live refuses: anything before session.start, unknown fields, a bad audio format, query parameters, a wrong key', async () => {
    fake = await startFakeRealtime({ apiKey: API_KEY });
    const first = await rawLive(fake.liveUrl);
    first.ws.send(JSON.stringify({ type: 'session.input_audio.append', audio: '//8=' }));
    await first.closed;
    expect(errorOf(first.got).code).toBe('session_not_started');

    const strict = await rawLive(fake.liveUrl);
    strict.ws.send(start({ model: 'gpt-live-1', turn_detection: { type: 'server_vad' } }));
    await strict.closed;
    expect(errorOf(strict.got)).toMatchObject({
      code: 'unknown_parameter',
      message: "Unknown parameter: 'session.turn_detection'.",
    });

    const format = await rawLive(fake.liveUrl);
    format.ws.send(start({ model: 'gpt-live-1', audio: { format: { type: 'audio/pcmu', rate: 16000 } } }));
    await format.closed;
    expect(errorOf(format.got).code).toBe('invalid_value');

    const tool = await rawLive(fake.liveUrl);
    tool.ws.send(
      start({
        model: 'gpt-live-1',
        delegation: {
          type: 'responses',
          responses: { model: 'gpt-6-luna', tools: [{ type: 'function', name: 'x', input_schema: {} }] },
        },
      }),
    );
    await tool.closed;
    expect(errorOf(tool.got).message).toContain("'session.delegation.responses.tools[0].input_schema'");

    expect((await rawLive(`${fake.liveUrl}?model=gpt-live-1`)).status).toBe(400);
    expect((await rawLive(fake.liveUrl, 'sk-wrong')).status).toBe(401);

    const ok = await rawLive(fake.liveUrl);
    ok.ws.send(
      start({
        model: 'gpt-live-1',
        audio: { format: { type: 'audio/pcmu', rate: 8000 } },
        delegation: { type: 'client' },
      }),
    );
    await eventually(() => ok.got.some((e) => e.type === 'session.started'));
    // client delegation: function outputs are not accepted
    ok.ws.send(JSON.stringify({ type: 'response.create' }));
    await eventually(() => errorOf(ok.got) !== undefined);
    expect(errorOf(ok.got).message).toContain('requires Responses delegation');
    ok.ws.close();
  });

  it.each([
    { idle: false },
    { idle: true },
  ])('a call: μ-law both ways untouched, the greeting by instructions, a tool by delegation, transcripts, a key press as context, a clean close (Live streaming silence between utterances: $idle)', async ({
    idle,
  }) => {
    const brain: Brain = (ctx) => {
      const quoted = [...(ctx.instructions?.matchAll(/"([^"]+)"/g) ?? [])].at(-1)?.[1];
      if (ctx.trigger === 'create' && quoted) return { say: quoted };
      if (ctx.toolOutputs.length)
        return { say: `That would be ${JSON.parse(ctx.toolOutputs[0]!.output).price_usd} dollars.` };
      return { say: 'Let me check.', call: [{ name: 'get_quote', arguments: { rooms: 2 } }] };
    };
    fake = await startFakeRealtime({
      apiKey: API_KEY,
      brain,
      callerTranscripts: ['How much for two rooms?'],
      liveIdleSilence: idle,
    });
    const { calls } = await liveCallOn(fake, brain);
    const caller = h!.caller();
    await caller.dial();
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    const live = fake.liveSessions[0]!;
    const session = live.sent('session.start')[0]!.session as SessionStartEvent['session'];
    expect(session.audio).toEqual({ format: { type: 'audio/pcmu', rate: 8000 }, output: { voice: 'marin' } });
    const delegation = session.delegation as Extract<typeof session.delegation, { type: 'responses' }>;
    expect(delegation.type).toBe('responses');
    expect(delegation.responses.tools?.map((t) => ('name' in t ? t.name : t.type))).toContain('get_quote');
    expect(live.spoken[0]!.say).toBe('Hello, thanks for calling.');

    await caller.speak(mulawTone(800));
    await caller.pause(1_000); // the line carries silence, as a phone's does
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await eventually(() => live.spoken.some((s) => s.say === 'That would be 450 dollars.'), 15_000);
    expect(calls).toEqual(['get_quote']);
    const sentTypes = live.received.map((e) => e.type);
    expect(sentTypes.indexOf('response.create')).toBeGreaterThan(sentTypes.indexOf('response.item.create'));
    // every caller frame went in as it came: 20 ms of μ-law, base64, not re-encoded
    const appends = live.sent('session.input_audio.append');
    expect(appends.length).toBeGreaterThan(10);
    for (const append of appends) expect(Buffer.from(String(append.audio), 'base64')).toHaveLength(160);

    caller.pressKey('5');
    await eventually(() => live.sent('session.thinking.append').length > 0);
    expect(live.sent('session.thinking.append')[0]).toMatchObject({
      content: expect.stringContaining('"5"'),
      delegation_id: null,
    });

    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.hangUp();
    await eventually(() => live.sent('session.close').length === 1);
    const log = h!.callLog(caller.callSid);
    expect(log.transcript.map((t) => [t.role, t.text])).toEqual([
      ['agent', 'Hello, thanks for calling.'],
      ['caller', 'How much for two rooms?'],
      ['agent', 'Let me check. That would be 450 dollars.'],
    ]);
  });

  it('barge-in without truncation: caller speech while the agent talks clears Twilio at once, the model is told, and it stops', async () => {
    const brain: Brain = (ctx) =>
      ctx.trigger === 'create'
        ? { say: 'Hi.' }
        : { say: 'Let me tell you all about our moving services. '.repeat(6) };
    fake = await startFakeRealtime({ apiKey: API_KEY, brain, deltaIntervalMs: 20, deltaMs: 20 });
    await liveCallOn(fake, brain);
    const caller = h!.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(600));
    const live = fake.liveSessions[0]!;
    await caller.pause(1_500); // the turn ends; the agent starts its long answer and is well into it
    const spokeAt = caller.now();
    await caller.speak(mulawTone(800));
    await eventually(() => caller.clears.length > 0, 5_000);
    const clearAfterMs = caller.clears[0]!.atMs - spokeAt;
    expect(clearAfterMs).toBeLessThan(1_500); // generous: the detector needs 120 ms of speech
    await eventually(() => live.spoken[1]!.cut, 5_000);
    expect(live.sent('session.instructions.append').map((e) => e.content)).toContainEqual(
      expect.stringContaining('did not hear the rest'),
    );
    await caller.hangUp();
  });
});

describe("GPT-Live turns are the model's", () => {
  const longAnswer: Brain = (ctx) =>
    ctx.trigger === 'create'
      ? { say: 'Hi.' }
      : { say: 'Let me tell you all about our moving services. '.repeat(6) };

  it('an "mm-hm" over the agent does not cut it off: Live talks on, Twilio is not cleared, nothing is appended', async () => {
    fake = await startFakeRealtime({ apiKey: API_KEY, brain: longAnswer, deltaIntervalMs: 20, deltaMs: 20 });
    await liveCallOn(fake, longAnswer);
    const caller = h!.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(600));
    const live = fake.liveSessions[0]!;
    await caller.pause(1_500); // well into the long answer
    expect(live.spoken[1]?.cut).toBe(false);
    await caller.speak(mulawTone(250)); // a backchannel
    await caller.pause(1_500);
    expect(caller.clears).toEqual([]);
    expect(live.spoken[1]!.cut).toBe(false);
    expect(live.interruptedByAppend).toBe(0);
    expect(live.sent('session.instructions.append').map((e) => e.content)).not.toContainEqual(
      expect.stringContaining('did not hear the rest'),
    );
    await caller.hangUp();
  });

  it('a caller turn is never followed by an appended "Answer the caller now.": Live answers by itself', async () => {
    const brain: Brain = (ctx) => (ctx.trigger === 'create' ? { say: 'Hi.' } : { say: 'Sure, I can help.' });
    fake = await startFakeRealtime({ apiKey: API_KEY, brain, deltaIntervalMs: 20, deltaMs: 20 });
    await liveCallOn(fake, brain);
    const caller = h!.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    for (let turn = 0; turn < 2; turn++) {
      await caller.speak(mulawTone(600));
      await caller.pause(2_000);
    }
    const live = fake.liveSessions[0]!;
    expect(live.callerTurns).toBe(2);
    const appended = live.sent('session.instructions.append').map((e) => String(e.content));
    expect(appended).toHaveLength(1); // the greeting only
    expect(appended[0]).toMatch(/greet|Hi/i);
    expect(live.interruptedByAppend).toBe(0);
    expect(live.spoken.map((s) => s.say)).toEqual(['Hi.', 'Sure, I can help.', 'Sure, I can help.']);
    await caller.hangUp();
  });
});

/** The harness on the stand-in already started (its Live endpoint). */
async function liveCallOn(started: FakeRealtimeServer, brain: Brain) {
  const calls: string[] = [];
  h = await startHarness({
    agent: LIVE,
    fake: { brain },
    server: {
      realtimeUrl: started.liveUrl,
      tools: {
        definitions: () => [
          { name: 'get_quote', description: 'A price.', parameters: { type: 'object', properties: {} } },
        ],
        forCall: () => ({
          execute: async (call) => {
            calls.push(call.name);
            return { ok: true as const, output: '{"price_usd":450}' };
          },
        }),
      },
    },
  });
  return { calls };
}

describe('a GPT-Live session that is lost or expires', () => {
  const agentFile = { engine: 'live' };
  const quiet = createLogger({ level: 'error', json: true, write: () => {} });

  /** A LiveModelSession on the stand-in, with every event it reports. */
  async function liveSession(
    options: { expiresInS?: number; rolloverLeadMs?: number; heartbeatMs?: number } = {},
  ) {
    fake = await startFakeRealtime({ apiKey: API_KEY, liveExpiresInS: options.expiresInS });
    const agent = testAgent(agentFile);
    const session = new LiveModelSession({
      url: fake.liveUrl,
      apiKey: API_KEY,
      logger: quiet,
      start: () => buildSessionStart(agent, []),
      speech: { threshold: 600, startMs: 120, stopMs: 700 },
      reconnectDelaysMs: [0, 100],
      ...(options.rolloverLeadMs ? { rolloverLeadMs: options.rolloverLeadMs } : {}),
      ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    });
    const events: ModelEvent[] = [];
    session.subscribe((e) => events.push(e));
    await eventually(() => events.some((e) => e.type === 'ready'));
    return { session, events };
  }

  it('a dropped connection: a new session starts with the call so far, and the call goes on', async () => {
    const { session, events } = await liveSession();
    session.respond('Start the call: say exactly this: "Hello, Swift Movers."');
    await eventually(
      () => events.some((e) => e.type === 'transcript' && e.text === 'Hello, Swift Movers.'),
      5_000,
    );
    fake!.liveSessions[0]!.drop();
    await eventually(() => events.some((e) => e.type === 'resumed'), 5_000);
    expect(events.find((e) => e.type === 'resumed')).toMatchObject({ reason: 'lost', attempt: 1 });
    expect(events.some((e) => e.type === 'closed')).toBe(false);
    const restart = fake!.liveSessions[1]!.sent('session.start')[0]!.session as { input: unknown[] };
    expect(restart.input).toEqual([
      { role: 'assistant', content: [{ type: 'output_text', text: 'Hello, Swift Movers.' }] },
      { role: 'developer', content: [{ type: 'input_text', text: expect.stringContaining('Do not greet') }] },
    ]);
    session.close();
  });

  it('a connection that stalls without closing is noticed by its heartbeat and replaced: no talking into silence', async () => {
    const { session, events } = await liveSession({ heartbeatMs: 200 });
    fake!.liveSessions[0]!.stall();
    await eventually(() => events.some((e) => e.type === 'resumed'), 5_000);
    expect(events.find((e) => e.type === 'resumed')).toMatchObject({ reason: 'lost', attempt: 1 });
    expect(events.find((e) => e.type === 'warning')).toMatchObject({
      message: expect.stringContaining('GPT-Live stopped answering'),
    });
    expect(fake!.liveSessions).toHaveLength(2);
    session.close();
  });

  it('before expires_at, a new session replaces the old one at a quiet moment; the old one is closed', async () => {
    const { session, events } = await liveSession({ expiresInS: 3, rolloverLeadMs: 2_500 });
    await eventually(() => events.some((e) => e.type === 'resumed'), 5_000);
    expect(events.find((e) => e.type === 'resumed')).toMatchObject({ reason: 'rollover' });
    await eventually(() => fake!.liveSessions[0]!.sent('session.close').length === 1);
    expect(fake!.liveSessions).toHaveLength(2);
    session.close();
    await eventually(() => fake!.liveSessions[1]!.sent('session.close').length === 1);
  });

  it('a changed tool list reaches the running session (session.update, same delegation); a change of mode is refused', async () => {
    fake = await startFakeRealtime({ apiKey: API_KEY });
    const agent = testAgent(agentFile);
    const tools = [
      { name: 'get_quote', description: 'A price.', parameters: { type: 'object', properties: {} } },
    ];
    const session = new LiveModelSession({
      url: fake.liveUrl,
      apiKey: API_KEY,
      logger: quiet,
      start: () => buildSessionStart(agent, tools),
      speech: { threshold: 600, startMs: 120, stopMs: 700 },
    });
    const events: ModelEvent[] = [];
    session.subscribe((e) => events.push(e));
    await eventually(() => events.some((e) => e.type === 'ready'));
    // an MCP server came back with another tool
    tools.push({ name: 'book_move', description: 'Books.', parameters: { type: 'object', properties: {} } });
    session.respond('Say exactly this: "One moment."');
    const live = fake.liveSessions[0]!;
    await eventually(() => live.sent('session.update').length === 1, 5_000);
    const config = live.config as { delegation: { responses: { tools: { name: string }[] } } };
    expect(config.delegation.responses.tools.map((t) => t.name)).toEqual(['get_quote', 'book_move']);
    expect(live.errors).toEqual([]);
    session.close();

    const raw = await rawLive(fake.liveUrl);
    raw.ws.send(
      start({ model: 'gpt-live-1.1', delegation: { type: 'responses', responses: { model: 'gpt-6-luna' } } }),
    );
    await eventually(() => raw.got.some((e) => e.type === 'session.started'));
    raw.ws.send(JSON.stringify({ type: 'session.update', session: { delegation: { type: 'client' } } }));
    await eventually(() => errorOf(raw.got) !== undefined);
    expect(errorOf(raw.got).code).toBe('immutable_field_update');
    raw.ws.close();
  });

  it('every command carries an event_id, so a refusal names the command it refuses (W11)', async () => {
    const { session, events } = await liveSession();
    session.addCallerText(''); // refused by the service: an append needs content
    await eventually(() => events.some((e) => e.type === 'warning'), 5_000);
    expect(events.find((e) => e.type === 'warning')).toMatchObject({
      message: expect.stringMatching(
        /^GPT-Live refused session\.thinking\.append: Missing required parameter: 'content'/,
      ),
    });
    const live = fake!.liveSessions[0]!;
    const commands = live.received.filter(
      (e) => e.type !== 'session.input_audio.append' && e.type !== 'session.start',
    );
    expect(commands.length).toBeGreaterThan(0);
    for (const command of commands) expect(command.event_id).toMatch(/^va_\d+$/);
    session.close();
  });

  it('the stand-in is as strict as Live: G.711 without a rate, a decisions delegation without questions; it acknowledges mute and fixtures', async () => {
    fake = await startFakeRealtime({ apiKey: API_KEY });
    const noRate = await rawLive(fake.liveUrl);
    noRate.ws.send(start({ model: 'gpt-live-1.1', audio: { format: { type: 'audio/pcmu' } } }));
    await eventually(() => errorOf(noRate.got) !== undefined);
    const decisions = await rawLive(fake.liveUrl);
    decisions.ws.send(start({ model: 'gpt-live-1.1', delegation: { type: 'decisions' } }));
    await eventually(() => errorOf(decisions.got) !== undefined);
    expect(errorOf(decisions.got).code).toBe('missing_required_parameter');
    const ok = await rawLive(fake.liveUrl);
    ok.ws.send(start({ model: 'gpt-live-1.1', audio: { format: { type: 'audio/pcmu', rate: 8000 } } }));
    await eventually(() => ok.got.some((e) => e.type === 'session.started'));
    ok.ws.send(JSON.stringify({ type: 'session.input_audio.mute', event_id: 'm1' }));
    ok.ws.send(JSON.stringify({ type: 'session.input_audio.unmute', event_id: 'm2' }));
    ok.ws.send(JSON.stringify({ type: 'session.output_audio.fixture.play', audio: 'AAAA', event_id: 'f1' }));
    await eventually(() => ok.got.some((e) => e.type === 'session.output_audio.fixture.played'));
    expect(ok.got.map((e) => [e.type, e.client_event_id]).filter(([, id]) => id)).toEqual([
      ['session.input_audio.muted', 'm1'],
      ['session.input_audio.unmuted', 'm2'],
      ['session.output_audio.fixture.playing', 'f1'],
      ['session.output_audio.fixture.played', 'f1'],
    ]);
    for (const event of ok.got) expect(event.event_id).toEqual(expect.any(String));
    for (const raw of [noRate, decisions, ok]) raw.ws.close();
  });

  it('a key refused is not retried: the call ends with the reason', async () => {
    fake = await startFakeRealtime({ apiKey: API_KEY });
    const session = new LiveModelSession({
      url: fake.liveUrl,
      apiKey: 'sk-wrong',
      logger: quiet,
      start: () => buildSessionStart(testAgent(agentFile), []),
      speech: { threshold: 600, startMs: 120, stopMs: 700 },
    });
    const events: ModelEvent[] = [];
    session.subscribe((e) => events.push(e));
    await eventually(() => events.some((e) => e.type === 'closed'));
    expect(events.find((e) => e.type === 'closed')).toMatchObject({ code: 'auth', expected: false });
    expect(fake.handshakes).toHaveLength(1);
  });
});
