import type { SessionStartEvent } from 'openai-live/resources/live/live';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mulawTone } from '../../../src/audio/mulaw.js';
import type { Brain } from '../../fakes/fake-realtime-server.js';
import { type FakeRealtimeServer, startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import { API_KEY, eventually, type Harness, startHarness } from '../../helpers/call-harness.js';

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
          responses: { model: 'gpt-5-mini', tools: [{ type: 'function', name: 'x', input_schema: {} }] },
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

  it('a call: μ-law both ways untouched, the greeting by instructions, a tool by delegation, transcripts, a key press as context, a clean close', async () => {
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
    for (const append of live.sent('session.input_audio.append'))
      expect(Buffer.from(String(append.audio), 'base64')).toHaveLength(160);

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
            return '{"price_usd":450}';
          },
        }),
      },
    },
  });
  return { calls };
}
