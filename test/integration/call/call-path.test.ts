import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mulawTone } from '../../../src/audio/mulaw.js';
import { signTwilioRequest } from '../../../src/telephony/twilio/signature.js';
import { startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import {
  API_KEY,
  AUTH_TOKEN,
  eventually,
  type Harness,
  recordedClientEvents,
  startHarness,
} from '../../helpers/call-harness.js';
import { nonConformingEvents } from '../../helpers/realtime-conformance.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

afterAll(() => {
  // every client event sent during these calls conforms to OpenAI's published GA schemas
  expect(recordedClientEvents.length).toBeGreaterThan(100);
  expect(nonConformingEvents(recordedClientEvents)).toEqual([]);
});

describe('a phone call through voice-agent', () => {
  it('greets first, answers the caller, keeps transcripts, and hangs up cleanly', async () => {
    h = await startHarness({ fake: { callerTranscripts: ['I need a quote'] } });
    const caller = h.caller();
    await caller.dial();

    // pre-warmed at the webhook: the Realtime socket exists and was configured (GA shape, no beta header)
    const rt = await eventually(() => h!.fake.sessions[0]);
    expect(rt.headers.authorization).toBe('Bearer sk-test-key');
    expect(rt.headers['openai-beta']).toBeUndefined();
    expect(rt.url.searchParams.get('model')).toBe('gpt-realtime-2.1');
    expect(rt.sent('session.update')[0]).toMatchObject({
      session: {
        type: 'realtime',
        audio: {
          input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad' } },
          output: { format: { type: 'audio/pcmu' }, voice: 'marin' },
        },
      },
    });

    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    const greetingMs = caller.playback.heardMs();
    expect(greetingMs).toBeGreaterThan(1000); // "Hello, thanks for calling." at 50 ms per character

    await caller.speak(mulawTone(800));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    expect(caller.playback.heardMs()).toBeGreaterThan(greetingMs + 500);

    expect(h.callLog(caller.callSid).transcript.map((t) => [t.role, t.text])).toEqual([
      ['agent', 'Hello, thanks for calling.'],
      ['caller', 'I need a quote'],
      ['agent', 'Answer number 1.'],
    ]);
    // every mark the bridge sent came back, and no frame broke Twilio's protocol
    expect(caller.violations).toEqual([]);
    expect(caller.marksEchoed.length).toBe(caller.received.filter((m) => m.event === 'mark').length);

    await caller.hangUp();
    await eventually(() => rt.open === false);
    expect(await caller.outcome()).toEqual({ kind: 'hangup' });
    expect(h.server.activeCalls).toBe(0);
    expect(rt.errors).toEqual([]);
    // caller speech is not logged unless the agent opts in
    expect(h.logs.join('\n')).not.toContain('I need a quote');
    expect(h.logs.join('\n')).not.toContain('sk-test-key');
  });

  it.each([
    ['no network delay', 0, {}],
    ['mark echoes 40 ms late', 40, {}],
    // 100 ms of audio every 250 ms: the phone runs dry between deltas, more often than marks are sent
    ['the model slower than real time', 0, { deltaMs: 100, deltaIntervalMs: 250 }],
  ])('barge-in (%s): clears Twilio and truncates the item at what the caller actually heard', async (_what, echoDelayMs, pace) => {
    h = await startHarness({
      fake: {
        brain: (ctx) => (ctx.trigger === 'create' ? { say: 'Hi.' } : { say: 'x'.repeat(100), audioMs: 5000 }),
        ...pace,
      },
    });
    const caller = h.caller({ markEchoDelayMs: echoDelayMs });
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    const beforeAnswer = caller.playback.heardMs();

    await caller.speak(mulawTone(600));
    await caller.pause(700); // turn ends; the 5 s answer starts streaming (10x real time by default)
    await eventually(() => caller.playback.heardMs() - beforeAnswer > 1200);
    await caller.speak(mulawTone(300)); // interrupt

    const rt = h.fake.sessions[0]!;
    const truncation = await eventually(() => rt.truncations[0]);
    const clear = caller.clears[0]!;
    const heardOfAnswer = clear.heardMs - beforeAnswer;
    expect(heardOfAnswer).toBeGreaterThan(1200);
    expect(heardOfAnswer).toBeLessThan(4000);
    // one frame, plus what a late echo hides (the bridge interpolates from the last echo it saw)
    expect(Math.abs(truncation.audioEndMs - heardOfAnswer)).toBeLessThanOrEqual(20 + echoDelayMs);
    // the answer was cancelled by the server (interrupt_response), not by us
    expect(rt.sent('response.cancel')).toEqual([]);
    expect(rt.errors).toEqual([]);
    expect(caller.violations).toEqual([]);
    const cutLine = await eventually(() => h!.callLog(caller.callSid).transcript.find((t) => t.interrupted));
    expect(cutLine).toMatchObject({ role: 'agent', heardMs: truncation.audioEndMs });
    await caller.hangUp();
  });

  it('interrupt_response off: the agent finishes speaking, and the caller turn is answered afterwards', async () => {
    h = await startHarness({
      agent: { realtime: { turn_detection: { type: 'server_vad', interrupt_response: false } } },
      // real-time generation, so the response is still running when the caller speaks
      fake: {
        brain: (ctx) =>
          ctx.trigger === 'create' && ctx.callerTurns === 0
            ? { say: 'y'.repeat(100), audioMs: 3000 }
            : { say: 'ok' },
        deltaIntervalMs: 100,
      },
    });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => caller.playback.heardMs() > 500);
    await caller.speak(mulawTone(300));
    const rt = h.fake.sessions[0]!;
    // the caller's turn ended during the greeting: the server skips it, the bridge queues an answer
    await eventually(() => rt.responses.length === 2 && rt.responses[1]!.status === 'completed', 15_000);
    expect(rt.responses[0]!.status).toBe('completed'); // not cut off
    expect(caller.clears).toEqual([]);
    expect(rt.sent('response.cancel')).toEqual([]);
    expect(rt.sent('conversation.item.truncate')).toEqual([]);
    expect(rt.errors).toEqual([]);
    await caller.hangUp();
  });

  it('skips the truncate when the caller speaks before hearing anything', async () => {
    h = await startHarness({ agent: { greeting: undefined } });
    const caller = h.caller();
    await caller.dial();
    await caller.speak(mulawTone(500));
    await caller.pause(800);
    await caller.waitForAgent({ timeoutMs: 10_000 });
    const rt = h.fake.sessions[0]!;
    expect(rt.sent('conversation.item.truncate')).toEqual([]);
    expect(caller.clears).toEqual([]);
    await caller.hangUp();
  });

  it('the server hands every call event, in order, to its listener', async () => {
    const events: { callSid: string; type: string; atMs: number }[] = [];
    h = await startHarness({
      fake: { callerTranscripts: ['Hi there'] },
      server: {
        onCallEvent: (callSid, event) => events.push({ callSid, type: event.type, atMs: event.atMs }),
      },
    });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(500));
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.hangUp();
    await eventually(() => events.some((e) => e.type === 'ended'));
    expect(new Set(events.map((e) => e.callSid))).toEqual(new Set([caller.callSid]));
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('started');
    expect(types.at(-1)).toBe('ended');
    for (const t of ['agent_speech_started', 'caller_speech_started', 'caller_speech_stopped', 'transcript'])
      expect(types).toContain(t);
    const times = events.map((e) => e.atMs);
    expect(times).toEqual([...times].sort((a, b) => a - b)); // ordered in time
  });

  it('20 concurrent calls stay isolated', async () => {
    const startedOn = new Map<string, string>();
    h = await startHarness({
      server: {
        onCallEvent: (callSid, event) => {
          if (event.type === 'started') startedOn.set(callSid, event.streamId);
        },
      },
      fake: {
        brain: (ctx) => ({
          say: ctx.trigger === 'create' ? 'Hi there.' : 'z'.repeat(10 + (ctx.session.appendedBytes % 7)),
        }),
      },
    });
    const callers = Array.from({ length: 20 }, () => h!.caller());
    await Promise.all(callers.map((c) => c.dial()));
    await Promise.all(
      callers.map(async (c, i) => {
        await c.waitForAgent({ timeoutMs: 20_000 });
        await c.speak(mulawTone(200 + i * 20));
        await c.waitForAgent({ timeoutMs: 20_000 });
      }),
    );
    expect(h.fake.sessions).toHaveLength(20);
    expect(h.server.activeCalls).toBe(20);
    // each call on its own stream: the call's events name the stream its caller opened
    expect(new Set(callers.map((c) => c.streamSid)).size).toBe(20);
    for (const [i, c] of callers.entries()) {
      expect(startedOn.get(c.callSid)).toBe(c.streamSid);
      expect(h.callLog(c.callSid).transcript.filter((t) => t.role === 'agent')).toHaveLength(2);
      expect(c.violations).toEqual([]);
      expect(c.clears).toEqual([]);
      expect(i).toBeGreaterThanOrEqual(0);
    }
    for (const rt of h.fake.sessions) expect(rt.errors).toEqual([]);
    await Promise.all(callers.map((c) => c.hangUp()));
    await eventually(() => h!.server.activeCalls === 0);
  });

  it('a normal end by the server: the action URL answers <Hangup/>', async () => {
    h = await startHarness({ agent: { call: { max_duration_s: 1 } } });
    const caller = h.caller();
    await caller.dial();
    expect(await caller.closed()).toBe('server');
    expect(await caller.outcome()).toEqual({ kind: 'hangup' });
  });

  it('Realtime refuses the key (401): the stream ends and the action URL plays the fallback', async () => {
    h = await startHarness({
      fake: { handshakeStatus: 401 },
      agent: { call: { fallback: { say: 'Please call back later.' } } },
    });
    const caller = h.caller();
    await caller.dial();
    expect(await caller.closed()).toBe('server');
    expect(await caller.outcome()).toEqual({ kind: 'say', text: 'Please call back later.' });
    const logs = h.logs.join('\n');
    expect(logs).toContain('OpenAI rejected the API key (HTTP 401): check OPENAI_API_KEY');
    expect(logs).not.toContain('sk-test-key');
  });

  it('OpenAI rejecting the session configuration: the caller gets the fallback at once, never service defaults', async () => {
    h = await startHarness({
      server: {
        tools: {
          // passes our checks but not the service's: `required` must be a list
          definitions: () => [
            {
              name: 'bad',
              description: 'd',
              parameters: { type: 'object', required: 'x' },
            },
          ],
          forCall: () => ({ execute: async () => ({ ok: true as const, output: '{}' }) }),
        },
      },
    });
    const caller = h.caller();
    await caller.dial();
    expect(await caller.closed()).toBe('server');
    expect((await caller.outcome()).kind).toBe('say');
    expect(caller.playback.heardMs()).toBe(0); // no greeting on a misconfigured session
    expect(h.logs.join('\n')).toContain('OpenAI rejected the session configuration');
  });

  it('a transcription setting OpenAI refuses does not end the call: it goes on without transcription, and says why', async () => {
    const events: { type: string; message?: string }[] = [];
    h = await startHarness({
      agent: { realtime: { transcription: { model: 'gpt-4o-transcrbe' } } },
      server: { onCallEvent: (_sid, event) => events.push(event) },
    });
    const caller = h.caller();
    await caller.dial();
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true); // answered: the call goes on
    const rt = h.fake.callSessions()[0]!;
    const updates = rt
      .sent('session.update')
      .map((e) => e.session as { audio: { input: Record<string, unknown> } });
    expect(updates[0]!.audio.input.transcription).toEqual({ model: 'gpt-4o-transcrbe' });
    expect(updates[1]!.audio.input).not.toHaveProperty('transcription');
    expect(rt.errors.map((e) => e.code)).toEqual(['invalid_value']);
    expect(events.filter((e) => e.type === 'warning').map((e) => e.message)).toEqual([
      expect.stringContaining('this call goes on without transcription of the caller'),
    ]);
    await caller.hangUp();
  });

  it('a pre-warmed Realtime socket that failed before the stream started is re-opened for the call', async () => {
    h = await startHarness({ fake: { refuseFirst: 1 } });
    const caller = h.caller({ streamDelayMs: 300 }); // the pre-warm fails (429) before the stream opens
    await caller.dial();
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true); // greeted on the new socket
    expect(h.fake.handshakes.map((x) => x.status)).toEqual([429, 101]);
    expect(h.logs.join('\n')).toContain('the pre-warmed model session failed; opening a new one');
    await caller.hangUp();
  });

  it('a second stream for the same call is refused; the first keeps its one model session', async () => {
    h = await startHarness({ agent: { greeting: undefined } });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => h!.server.activeCalls === 1);
    // Twilio opening a duplicate stream: same CallSid and token (the TwiML's <Parameter>)
    const duplicate = h.caller();
    Object.assign(duplicate, { callSid: caller.callSid });
    await duplicate.dial().catch(() => undefined);
    expect(await duplicate.closed()).toBe('server');
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    expect(h.fake.sessions).toHaveLength(1);
    expect(h.server.activeCalls).toBe(1);
    await caller.hangUp();
  });

  it('a fallback can dial a number instead', async () => {
    h = await startHarness({
      fake: { handshakeStatus: 429 },
      agent: { call: { fallback: { dial: '+15550001111' } } },
    });
    const caller = h.caller();
    await caller.dial();
    expect(await caller.outcome()).toMatchObject({ kind: 'dial', number: '+15550001111' });
    expect(h.logs.join('\n')).toContain('HTTP 429');
  });

  it('a fatal Realtime error event ends the stream with the fallback and a readable reason', async () => {
    h = await startHarness();
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    h.fake.sessions[0]!.failWith('insufficient_quota', 'You exceeded your current quota.', 1011);
    expect(await caller.closed()).toBe('server');
    expect((await caller.outcome()).kind).toBe('say');
    expect(h.logs.join('\n')).toContain(
      'OpenAI ended the session: You exceeded your current quota. (insufficient_quota)',
    );
  });

  it('the service ending a session at its 60-minute limit: a new session takes over, the call goes on', async () => {
    h = await startHarness({ agent: { greeting: 'Hi.' } });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    h.fake.sessions[0]!.failWith(
      'session_expired',
      'Your session hit the maximum duration of 60 minutes.',
      1001,
    );
    await eventually(() => h!.fake.sessions[1]?.sent('session.update').length === 1);
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    expect(h.server.activeCalls).toBe(1);
    await caller.hangUp();
  });

  it('rollover: before the time limit, the session is replaced at a quiet moment with the conversation replayed', async () => {
    h = await startHarness({
      fake: { callerTranscripts: ['Do you move pianos?'] },
      server: { realtimeRolloverMs: 1_500 },
    });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(500));
    await caller.waitForAgent({ timeoutMs: 10_000 });
    // sessions roll over every 1.5 s here; find one that replayed the whole conversation
    const replayedAll = await eventually(
      () => h!.fake.sessions.find((s) => s.sent('conversation.item.create').length === 3),
      10_000,
    );
    const replayed = replayedAll
      .sent('conversation.item.create')
      .map((e) => (e.item as { content: { text: string }[] }).content[0]!.text);
    expect(replayed).toEqual(['Hello, thanks for calling.', 'Do you move pianos?', 'Answer number 1.']);
    await eventually(() => h!.fake.sessions[0]!.open === false); // replaced sessions are closed by us
    const second = replayedAll;
    expect(second.sent('response.create')).toEqual([]); // nothing was cut short: nothing to resume
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true); // answered by the new session
    expect(h.logs.join('\n')).toContain('rolled the model session over before its time limit');
    expect(h.logs.join('\n')).not.toContain('lost the OpenAI session');
    await caller.hangUp();
  });

  it('the session lifetime comes from the service: rolled over before expires_at, never cut by the close at expiry', async () => {
    h = await startHarness({
      // sessions that the service ends after 4 s (close 1001), announced in session.created
      fake: { realtimeLifetimeS: 4 },
      // no fixed age: only expires_at can cause the rollover, 2.5 s before it
      server: { realtimeRolloverMs: 3_600_000, realtimeRolloverLeadMs: 2_500 },
    });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    const first = h.fake.callSessions()[0]!;
    expect(first.sent('session.update')).toHaveLength(1);
    await eventually(() => h!.fake.callSessions().length >= 2, 5_000);
    await eventually(() => first.open === false);
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    const logs = h.logs.join('\n');
    expect(logs).toContain('rolled the model session over before its time limit');
    expect(logs).not.toContain('60-minute limit');
    expect(logs).not.toContain('lost the OpenAI session');
    await caller.hangUp();
  });

  it('a Realtime socket lost mid-answer is replaced at once: the conversation is replayed and the call goes on', async () => {
    h = await startHarness({
      fake: {
        callerTranscripts: ['I need a quote for Friday'],
        deltaIntervalMs: 100, // real time: the answer is still playing when the socket drops
        brain: (ctx) => {
          if (ctx.instructions?.includes('line dropped')) return { say: 'As I was saying, Friday works.' };
          if (ctx.trigger === 'create') return { say: 'Hello, Swift Movers.' };
          return { say: 'Let me check Friday for you, one moment please.', audioMs: 4000 };
        },
      },
    });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    const greeted = caller.playback.heardMs();
    await caller.speak(mulawTone(500));
    await eventually(() => caller.playback.heardMs() > greeted + 500); // the answer is playing
    h.fake.sessions[0]!.close(1011, 'server_error');

    const second = await eventually(() => h!.fake.sessions[1]);
    await eventually(() => second.responses.length === 1);
    const [update, ...rest] = second.received;
    expect(update).toMatchObject({ type: 'session.update', session: { type: 'realtime' } });
    const replayed = rest
      .filter((e) => e.type === 'conversation.item.create')
      .map((e) => e.item as { role: string; content: { type: string; text: string }[] })
      .map((item) => [item.role, item.content[0]!.type, item.content[0]!.text]);
    expect(replayed).toEqual([
      ['assistant', 'output_text', 'Hello, Swift Movers.'],
      ['user', 'input_text', 'I need a quote for Friday'],
    ]);
    // the cut answer is resumed, not started over
    expect(second.responses[0]!.instructions).toContain('without starting over');
    expect(second.errors).toEqual([]);
    const before = caller.playback.heardMs();
    await eventually(() => caller.playback.heardMs() > before + 500, 10_000); // the caller hears the agent again
    expect(h.server.activeCalls).toBe(1);
    expect(h.logs.join('\n')).toContain('reconnected to the model; conversation replayed');
    await caller.hangUp();
  });

  it('when every reconnect attempt fails, the caller gets the fallback', async () => {
    h = await startHarness();
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    h.fake.refuseNew(503);
    h.fake.sessions[0]!.close(1011, 'server_error');
    expect(await caller.closed()).toBe('server');
    expect((await caller.outcome()).kind).toBe('say');
    expect(h.fake.handshakes.map((x) => x.status)).toEqual([101, 503, 503, 503]);
    expect(h.logs.join('\n')).toContain('could not reconnect (3 attempts)');
  });

  it('a Realtime socket that goes silent without closing is detected and replaced: no dead air', async () => {
    h = await startHarness({ server: { realtimeHeartbeatMs: 200 } });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    h.fake.sessions[0]!.stall();
    await eventually(() => h!.fake.sessions[1]?.sent('session.update').length === 1, 5_000);
    expect(h.logs.join('\n')).toContain('the OpenAI Realtime socket stopped answering');
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true); // answered on the new session
    expect(h.server.activeCalls).toBe(1);
    await caller.hangUp();
  });

  it('one late pong is not a lost socket: a stall shorter than two heartbeats costs no reconnect', async () => {
    h = await startHarness({ server: { realtimeHeartbeatMs: 400 } });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    const rt = h.fake.sessions[0]!;
    rt.stall();
    await caller.pause(600); // one ping goes unanswered for a while (a GC pause, a congested path)
    rt.unstall();
    await caller.pause(1_200);
    expect(h.fake.sessions).toHaveLength(1);
    expect(h.logs.join('\n')).not.toContain('stopped answering');
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await caller.hangUp();
  });

  it('feeds silence when Twilio stops sending frames, so the turn still ends', async () => {
    h = await startHarness({ agent: { greeting: undefined } });
    const caller = h.caller({ suppressSilence: true });
    await caller.dial();
    await caller.speak(mulawTone(500));
    await caller.pause(2000); // no frames at all
    await eventually(() => h!.fake.sessions[0]!.callerTurns === 1, 5000);
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await caller.hangUp();
  });

  it('keypad digits reach the model as caller input', async () => {
    h = await startHarness({ agent: { greeting: undefined } });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => h!.server.activeCalls === 1);
    caller.pressKey('5');
    const rt = h.fake.sessions[0]!;
    const created = await eventually(() => rt.sent('conversation.item.create')[0]);
    expect(JSON.stringify(created)).toContain('keypad key \\"5\\"');
    await eventually(() => rt.sent('response.create').length === 1);
    await caller.hangUp();
  });
});

describe('tools that change during a call', () => {
  /** Tools whose list changes on demand, as the MCP pool's does when a server comes back. */
  function changingTools() {
    const listeners = new Set<() => void>();
    let defs = [
      { name: 'end_call', description: 'Hang up.', parameters: { type: 'object', properties: {} } },
    ];
    return {
      tools: {
        definitions: () => defs,
        forCall: () => ({ execute: async () => ({ ok: true as const, output: '{"ok":true}' }) }),
        onChange: (listener: () => void) => {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      },
      serverCameBack() {
        defs = [
          ...defs,
          { name: 'get_quote', description: 'A price.', parameters: { type: 'object', properties: {} } },
        ];
        for (const listener of listeners) listener();
      },
      listeners,
    };
  }

  it.each([
    'realtime',
    'live',
  ])('a server that comes back mid-call adds its tools to the live session (%s engine); the session stops listening when the call ends', async (engine) => {
    const changing = changingTools();
    // GPT-Live's stand-in is the same server's /v1/live/sessions: one started first, its URL given
    const liveFake = engine === 'live' ? await startFakeRealtime({ apiKey: API_KEY }) : undefined;
    h = await startHarness({
      agent: { engine, greeting: 'Hello.' },
      server: { tools: changing.tools, ...(liveFake ? { realtimeUrl: liveFake.liveUrl } : {}) },
    });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    changing.serverCameBack();
    if (engine === 'realtime') {
      const rt = h.fake.callSessions()[0]!;
      await eventually(() => rt.sent('session.update').length === 2, 5_000);
      const update = rt.sent('session.update')[1]!.session as { tools: { name: string }[] };
      expect(update.tools.map((t) => t.name)).toEqual(['end_call', 'get_quote']);
      expect(rt.errors).toEqual([]);
    } else {
      const live = liveFake!.liveSessions[0]!;
      await eventually(() => live.sent('session.update').length === 1, 5_000);
      const config = live.config as { delegation: { responses: { tools: { name: string }[] } } };
      expect(config.delegation.responses.tools.map((t) => t.name)).toEqual(['end_call', 'get_quote']);
      expect(live.errors).toEqual([]);
    }
    await caller.hangUp();
    await eventually(() => changing.listeners.size === 0, 5_000);
    await liveFake?.close();
  });
});

describe('security', () => {
  it('rejects unsigned and wrongly signed webhooks with 403 and opens no Realtime socket', async () => {
    h = await startHarness();
    const body = new URLSearchParams({ CallSid: `CA${'a'.repeat(32)}`, From: '+15551230000' });
    const unsigned = await fetch(h.server.webhookUrl, { method: 'POST', body });
    expect(unsigned.status).toBe(403);
    const forged = await fetch(h.server.webhookUrl, {
      method: 'POST',
      body,
      headers: {
        'x-twilio-signature': signTwilioRequest('wrong-token', h.server.webhookUrl, Object.fromEntries(body)),
      },
    });
    expect(forged.status).toBe(403);
    // a signature over another URL (Host-header games) does not pass either
    const otherUrl = await fetch(h.server.webhookUrl, {
      method: 'POST',
      body,
      headers: {
        'x-twilio-signature': signTwilioRequest(
          AUTH_TOKEN,
          'https://evil.example/voice/incoming',
          Object.fromEntries(body),
        ),
      },
    });
    expect(otherUrl.status).toBe(403);
    expect(h.fake.handshakes).toEqual([]);
    expect(h.logs.join('\n')).toContain('rejected a webhook');
    expect(h.logs.join('\n')).not.toContain(AUTH_TOKEN);
  });

  it('rejects an unsigned media stream upgrade with 403', async () => {
    h = await startHarness();
    const caller = h.caller({ authToken: undefined });
    await expect(caller.dial()).rejects.toThrow(/403/); // the webhook itself is refused
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(h.server.streamUrl);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(status).toBe(403);
    expect(h.fake.handshakes).toEqual([]);
  });

  it('a stream with a wrong token is closed before any OpenAI session is used', async () => {
    h = await startHarness({ server: { prewarmTimeoutMs: 60_000 } });
    const caller = h.caller();
    await caller.dial();
    const real = h.fake.sessions[0]!;
    const intruder = h.caller();
    // replay the real call's identity with a made-up token
    const { default: WebSocket } = await import('ws');
    const { signTwilioRequest: sign } = await import('../../../src/telephony/twilio/signature.js');
    const ws = new WebSocket(h.server.streamUrl, {
      headers: { 'x-twilio-signature': sign(AUTH_TOKEN, h.server.streamUrl, {}) },
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        streamSid: intruder.streamSid,
        start: {
          accountSid: intruder.accountSid,
          streamSid: intruder.streamSid,
          callSid: caller.callSid,
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          customParameters: { token: 'guess' },
        },
      }),
    );
    const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
    expect(code).toBe(1008);
    // the real call is unaffected and its token cannot be reused
    expect(h.fake.sessions).toHaveLength(1);
    expect(real.sent('response.create')).toHaveLength(1); // only the real call's greeting
    await caller.hangUp();
  });
});

describe('robustness', () => {
  it('malformed frames end only that call', async () => {
    h = await startHarness({ agent: { greeting: undefined } });
    const good = h.caller();
    const bad = h.caller();
    await Promise.all([good.dial(), bad.dial()]);
    await eventually(() => h!.server.activeCalls === 2);
    bad.sendRaw('{"event":"media","streamSid":');
    expect(await bad.closed()).toBe('server');
    expect((await bad.outcome()).kind).toBe('say');
    expect(h.logs.join('\n')).toContain('frame is not JSON');
    // the other call still talks
    await good.speak(mulawTone(400));
    expect(await good.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    expect(h.server.activeCalls).toBe(1);
    await good.hangUp();
  });

  it.each([
    ['a binary frame', Buffer.from([1, 2, 3]), 'binary frame'],
    [
      'media without streamSid',
      JSON.stringify({ event: 'media', media: { payload: '', timestamp: '0' } }),
      'streamSid',
    ],
    [
      'a non-base64 payload',
      JSON.stringify({ event: 'media', streamSid: 'MZ1', media: { payload: '"}', timestamp: '0' } }),
      'not base64',
    ],
    ['an oversized frame', 'x'.repeat(70_000), 'Max payload'],
  ])('%s ends the call with a logged reason', async (_what, frame, reason) => {
    h = await startHarness({ agent: { greeting: undefined } });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => h!.server.activeCalls === 1);
    caller.sendRaw(frame);
    expect(await caller.closed()).toBe('server');
    await eventually(() => h!.server.activeCalls === 0);
    expect(h.logs.join('\n')).toContain(reason);
    await eventually(() => h!.fake.sessions[0]!.open === false);
  });

  it('an unknown Twilio event or a repeated connected is logged and ignored: the call goes on', async () => {
    h = await startHarness({ agent: { greeting: undefined } });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => h!.server.activeCalls === 1);
    caller.sendRaw(JSON.stringify({ event: 'dance', streamSid: caller.streamSid }));
    caller.sendRaw(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    expect(h.server.activeCalls).toBe(1);
    expect(h.logs.join('\n')).toContain('ignoring an unknown Twilio event');
    await caller.hangUp();
  });

  it('a peer inventing event names cannot flood the log: five are logged, then one line says the rest is not', async () => {
    h = await startHarness({ agent: { greeting: undefined } });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => h!.server.activeCalls === 1);
    for (let i = 0; i < 500; i++)
      caller.sendRaw(JSON.stringify({ event: `e${i}`, streamSid: caller.streamSid }));
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    const logs = h.logs.join('\n');
    expect(logs.match(/ignoring an unknown Twilio event/g)).toHaveLength(5);
    expect(logs.match(/no longer logged/g)).toHaveLength(1);
    await caller.hangUp();
  });

  it('unpadded base64 ("AAA") is audio like any other: the call goes on', async () => {
    h = await startHarness({ agent: { greeting: undefined } });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => h!.server.activeCalls === 1);
    for (let i = 1; i <= 5; i++)
      caller.sendRaw(
        JSON.stringify({
          event: 'media',
          streamSid: caller.streamSid,
          media: { track: 'inbound', chunk: String(i), timestamp: String(i * 20), payload: 'AAA' },
        }),
      );
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    expect(h.server.activeCalls).toBe(1);
    expect(h.logs.join('\n')).not.toContain('internal error');
    await caller.hangUp();
  });

  it('a frame before start ends the stream', async () => {
    h = await startHarness();
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(h.server.streamUrl, {
      headers: { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, h.server.streamUrl, {}) },
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ event: 'media', streamSid: 'MZ1', media: { payload: '', timestamp: '0' } }));
    expect(await new Promise<number>((r) => ws.once('close', (c) => r(c)))).toBe(1008);
    expect(h.logs.join('\n')).toContain('media before start');
  });

  it('a pre-warmed Realtime socket whose stream never arrives is closed', async () => {
    h = await startHarness({ server: { prewarmTimeoutMs: 300 } });
    const body = { CallSid: `CA${'b'.repeat(32)}`, From: '+15551230000', To: '+15005550006' };
    const res = await fetch(h.server.webhookUrl, {
      method: 'POST',
      body: new URLSearchParams(body),
      headers: { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, h.server.webhookUrl, body) },
    });
    expect(res.status).toBe(200);
    const twiml = await res.text();
    expect(twiml).toContain(`<Stream url="${h.server.streamUrl}">`);
    expect(twiml).toContain(`action="${h.server.publicUrl}/voice/stream-ended"`);
    expect(twiml).not.toMatch(/url="[^"]*\?/); // no query strings: <Parameter>s only
    const rt = await eventually(() => h!.fake.sessions[0]);
    await eventually(() => rt.open === false, 5000);
  });

  it('GET /healthz reports status, version and active calls', async () => {
    h = await startHarness();
    const res = await fetch(`${h.server.localUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      active_calls: 0,
    });
  });
});
