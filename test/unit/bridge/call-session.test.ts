import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CallEvent } from '../../../src/bridge/call-events.js';
import { type CallBehaviour, CallSession } from '../../../src/bridge/call-session.js';
import { MARK_EVERY_MS } from '../../../src/bridge/playback.js';
import type { CallAudioTap, CallOutcome, ToolExecutor } from '../../../src/bridge/ports.js';
import { createLogger } from '../../../src/observability/logger.js';
import { FakeModelSession } from '../../fakes/fake-model-session.js';
import { InMemoryMedia, TEST_BEHAVIOUR } from '../../fakes/in-memory-call.js';

/** The call core alone, on fakes of its own ports: no provider wire format anywhere. */
function core(
  options: { behaviour?: Partial<CallBehaviour>; tools?: ToolExecutor; audioTap?: CallAudioTap } = {},
) {
  const model = new FakeModelSession();
  const media = new InMemoryMedia();
  const outcomes: CallOutcome[] = [];
  const events: CallEvent[] = [];
  const clock = { now: 1_000 };
  const session = new CallSession({
    callSid: 'CA1',
    streamId: 'MZ1',
    media,
    model,
    logger: createLogger({ level: 'error', json: true, write: () => {} }),
    now: () => clock.now,
    ...(options.tools ? { tools: { definitions: () => [], forCall: () => options.tools! } } : {}),
    behaviour: { ...TEST_BEHAVIOUR, ...options.behaviour },
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'ended') outcomes.push(e.outcome);
    },
    audioTap: options.audioTap,
  });
  session.start();
  /** The events of these types, in order, without their times. */
  const seen = (...types: CallEvent['type'][]) =>
    events.filter((e) => types.includes(e.type)).map(({ atMs: _, ...rest }) => rest);
  return { session, model, media, outcomes, clock, events, seen };
}

const chunk = (ms: number) => Buffer.alloc(ms * 8, 0xff).toString('base64');

describe('the call core on fakes of its own ports', () => {
  it('greets once the model is ready, and not before', () => {
    const { model, session } = core({ behaviour: { greeting: 'Hello!' } });
    expect(model.requests).toEqual([]);
    model.emit({ type: 'ready' });
    expect(model.requests).toHaveLength(1);
    expect(model.requests[0]!.addendum).toContain('"Hello!"');
    expect(session.state).toBe('greeting');
  });

  it('plays audio with a mark per chunk; a barge-in clears it and asks the model to forget the rest', () => {
    const { model, media, clock } = core();
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    model.emit({ type: 'audio', responseId: 'r1', itemId: 'A', contentIndex: 0, chunk: chunk(500) });
    expect(media.frames).toHaveLength(1);
    expect(media.marks).toHaveLength(1);
    clock.now += 200;
    model.emit({ type: 'speech_started' });
    expect(media.clears).toBe(1);
    expect(model.forgotten).toEqual([[{ itemId: 'A', responseId: 'r1', contentIndex: 0, audioEndMs: 200 }]]);
  });

  it('runs tool calls once the response is done, returns each output, then asks for one answer', async () => {
    const execute = vi.fn(async () => ({ ok: true as const, output: '{"ok":true}' }));
    const { model } = core({ tools: { execute } });
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    model.emit({ type: 'tool_call', responseId: 'r1', call: { callId: 'c1', name: 'a', arguments: '{}' } });
    model.finishResponse('r1', [{ callId: 'c2', name: 'b', arguments: '{}' }]);
    await new Promise((r) => setImmediate(r));
    expect(execute).toHaveBeenCalledTimes(2);
    expect(model.toolResults.map((r) => r.callId)).toEqual(['c1', 'c2']);
    expect(model.requests).toHaveLength(1);
  });

  it('answering-machine detection: a person changes nothing; a machine cuts the agent off and gets the voicemail, then the call ends once it played; a fax or no voicemail ends it at once', async () => {
    const person = core({ behaviour: { greeting: 'Hi!' } });
    person.model.emit({ type: 'ready' });
    person.session.answeredBy('human', 'Please call back.');
    expect(person.outcomes).toEqual([]);
    expect(person.seen('answered_by')).toEqual([{ type: 'answered_by', by: 'human' }]);

    const machine = core({ behaviour: { greeting: 'Hi!' } });
    machine.model.emit({ type: 'ready' });
    machine.model.startResponse('r1');
    machine.model.emit({
      type: 'audio',
      responseId: 'r1',
      itemId: 'G',
      contentIndex: 0,
      chunk: chunk(2_000),
    });
    machine.session.answeredBy('machine', 'Please call back.');
    expect(machine.media.clears).toBe(1); // the greeting stops: the machine is recording
    expect(machine.session.state).toBe('finishing');
    const voicemail = machine.model.requests.at(-1)!;
    expect(voicemail.addendum).toContain('"Please call back."');
    machine.model.finishResponse('r1', []);
    expect(machine.model.startResponse('r2')).toBe(voicemail.id);
    machine.model.emit({ type: 'audio', responseId: 'r2', itemId: 'V', contentIndex: 0, chunk: chunk(300) });
    machine.model.finishResponse('r2', []);
    expect(machine.outcomes).toEqual([]); // not before it has played
    for (const mark of machine.media.marks.splice(0)) machine.session.handleMedia({ type: 'played', mark });
    await new Promise((r) => setImmediate(r));
    expect(machine.outcomes).toEqual([
      { kind: 'completed', reason: 'left a voicemail message on an answering machine' },
    ]);

    for (const [by, voicemailText] of [
      ['fax', 'Please call back.'],
      ['machine', undefined],
    ] as const) {
      const call = core();
      call.model.emit({ type: 'ready' });
      call.session.answeredBy(by, voicemailText);
      expect(call.outcomes).toEqual([{ kind: 'completed', reason: `answered by a ${by}: hung up` }]);
    }
  });

  it('a model session that is lost for good ends the call with the fallback and a typed code', () => {
    const { model, outcomes } = core();
    model.emit({ type: 'closed', code: 'auth', message: 'key refused', expected: false });
    expect(outcomes).toEqual([{ kind: 'failed', code: 'model_auth', reason: 'key refused' }]);
  });

  it('after a reconnect the old items are forgotten: a later barge-in cuts nothing of theirs', () => {
    const { model } = core();
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    model.emit({ type: 'audio', responseId: 'r1', itemId: 'A', contentIndex: 0, chunk: chunk(500) });
    model.emit({ type: 'resumed', reason: 'lost', attempt: 1, gapMs: 300 });
    model.emit({ type: 'speech_started' });
    expect(model.forgotten).toEqual([]);
  });

  it('a keypad digit reaches the model as caller text and asks for an answer', () => {
    const { model, session } = core();
    model.emit({ type: 'ready' });
    session.handleMedia({ type: 'dtmf', digit: '5' });
    expect(model.callerTexts).toEqual(['[The caller pressed the keypad key "5"]']);
    expect(model.requests).toHaveLength(1);
  });

  afterEach(() => vi.useRealTimers());

  it('walks its states in order: connecting → greeting → active → ended', () => {
    const { model, session, seen } = core({ behaviour: { greeting: 'Hi' } });
    expect(session.state).toBe('connecting');
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    model.finishResponse('r1');
    session.end({ kind: 'completed', reason: 'bye' });
    expect(seen('state')).toEqual([
      { type: 'state', state: 'greeting' },
      { type: 'state', state: 'active' },
      { type: 'state', state: 'ended' },
    ]);
  });

  it('times the greeting from the start, and each answer from the last caller frame of the turn', () => {
    const { model, session, clock, seen } = core({ behaviour: { greeting: 'Hi' } });
    clock.now += 300;
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    clock.now += 450;
    model.emit({ type: 'audio', responseId: 'r1', itemId: 'A', contentIndex: 0, chunk: chunk(100) });
    model.finishResponse('r1');
    // the caller speaks; their last frame arrives, then VAD needs its silence window to end the turn
    model.emit({ type: 'speech_started' });
    session.handleMedia({ type: 'audio', payload: chunk(20), timestampMs: 2_000 });
    clock.now += 500;
    model.emit({ type: 'speech_stopped' });
    model.emit({ type: 'turn_committed', answered: true });
    model.startResponse('r2');
    clock.now += 320;
    model.emit({ type: 'audio', responseId: 'r2', itemId: 'B', contentIndex: 0, chunk: chunk(100) });
    expect(seen('latency')).toEqual([
      { type: 'latency', kind: 'greeting', ms: 750 },
      { type: 'latency', kind: 'turn', ms: 820 },
    ]);
  });

  it('reports agent speech from its first audio to the last echoed mark, or to the barge-in', () => {
    const { model, session, media, clock, seen } = core();
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    model.emit({
      type: 'audio',
      responseId: 'r1',
      itemId: 'A',
      contentIndex: 0,
      chunk: chunk(MARK_EVERY_MS),
    });
    model.emit({ type: 'audio', responseId: 'r1', itemId: 'A', contentIndex: 0, chunk: chunk(100) });
    model.finishResponse('r1'); // no audio_done: the response's end marks the tail all the same
    expect(media.marks).toHaveLength(2);
    session.handleMedia({ type: 'played', mark: media.marks[0]! });
    expect(seen('agent_speech_stopped')).toEqual([]); // one chunk still playing
    session.handleMedia({ type: 'played', mark: media.marks[1]! });
    model.startResponse('r2');
    model.emit({ type: 'audio', responseId: 'r2', itemId: 'B', contentIndex: 0, chunk: chunk(1_000) });
    clock.now += 300;
    model.emit({ type: 'speech_started' });
    expect(seen('agent_speech_started', 'agent_speech_stopped', 'barge_in')).toEqual([
      { type: 'agent_speech_started', itemId: 'A' },
      { type: 'agent_speech_stopped', itemId: 'A', interrupted: false },
      { type: 'agent_speech_started', itemId: 'B' },
      { type: 'agent_speech_stopped', itemId: 'B', interrupted: true },
      { type: 'barge_in', cut: [{ itemId: 'B', heardMs: 300 }] },
    ]);
  });

  it('passes each response’s token usage on as an event', () => {
    const { model, seen } = core();
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    const usage = {
      inputTextTokens: 120,
      inputAudioTokens: 30,
      cachedTextTokens: 100,
      cachedAudioTokens: 0,
      outputTextTokens: 12,
      outputAudioTokens: 40,
    };
    model.finishResponse('r1', [], usage);
    expect(seen('usage')).toEqual([{ type: 'usage', usage }]);
  });

  it('shows a recorder both sides on the call’s timeline, and when the phone’s queue was cleared', () => {
    const tap = { caller: vi.fn(), agent: vi.fn(), cleared: vi.fn() };
    const { model, session, clock } = core({ audioTap: tap });
    model.emit({ type: 'ready' });
    session.handleMedia({ type: 'audio', payload: chunk(20), timestampMs: 40 });
    clock.now += 250;
    model.startResponse('r1');
    model.emit({ type: 'audio', responseId: 'r1', itemId: 'A', contentIndex: 0, chunk: chunk(500) });
    clock.now += 100;
    model.emit({ type: 'speech_started' });
    expect(tap.caller).toHaveBeenCalledWith(chunk(20), 40);
    expect(tap.agent).toHaveBeenCalledWith(chunk(500), 250);
    expect(tap.cleared).toHaveBeenCalledWith(350);
  });

  it('a caller frame stamped hours ahead is recorded where the call really is, not hours into a recording', () => {
    const tap = { caller: vi.fn(), agent: vi.fn(), cleared: vi.fn() };
    const { model, session, clock } = core({ audioTap: tap });
    model.emit({ type: 'ready' });
    clock.now += 3_000; // three seconds into the call
    session.handleMedia({ type: 'audio', payload: chunk(20), timestampMs: 14_399_000 });
    session.handleMedia({ type: 'audio', payload: chunk(20), timestampMs: 3_020 });
    expect(tap.caller.mock.calls.map(([, at]) => at)).toEqual([5_000, 3_020]); // at most 2 s ahead
  });

  it('a committed turn the model does not answer by itself is asked for; one it answers is not', () => {
    const { model } = core();
    model.emit({ type: 'ready' });
    model.emit({ type: 'speech_started' });
    model.emit({ type: 'speech_stopped' });
    expect(model.requests).toHaveLength(0);
    model.emit({ type: 'turn_committed', answered: true });
    expect(model.requests).toHaveLength(0);
    model.emit({ type: 'turn_committed', answered: false });
    expect(model.requests).toHaveLength(1);
  });

  it('with barge-in off, caller speech does not cut the agent', () => {
    const { model, media } = core({ behaviour: { interruptResponse: false } });
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    model.emit({ type: 'audio', responseId: 'r1', itemId: 'A', contentIndex: 0, chunk: chunk(500) });
    model.emit({ type: 'speech_started' });
    expect(media.clears).toBe(0);
    expect(model.forgotten).toEqual([]);
  });

  it('a failed response (a rate limit) is in the record and asked for again, twice at most: no silence', () => {
    vi.useFakeTimers();
    const { model, seen } = core();
    model.emit({ type: 'ready' });
    model.emit({ type: 'turn_committed', answered: true });
    for (let attempt = 1; attempt <= 3; attempt++) {
      model.startResponse(`r${attempt}`);
      model.finishResponse(`r${attempt}`, [], undefined, 'Rate limit reached');
      vi.advanceTimersByTime(1_000);
    }
    expect(model.requests).toHaveLength(2); // two retries, then it stops asking
    expect(seen('warning')).toEqual([
      { type: 'warning', message: "the model's response failed: Rate limit reached" },
      { type: 'warning', message: "the model's response failed: Rate limit reached" },
      { type: 'warning', message: "the model's response failed: Rate limit reached" },
    ]);
  });

  it('a failed response is not asked for again when the caller has started talking meanwhile', () => {
    vi.useFakeTimers();
    const { model } = core();
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    model.finishResponse('r1', [], undefined, 'server_error');
    model.emit({ type: 'speech_started' });
    vi.advanceTimersByTime(1_000);
    expect(model.requests).toEqual([]);
  });

  it('ends a call nobody speaks on after the idle limit, and one that reaches its maximum length', () => {
    vi.useFakeTimers();
    const idle = core({ behaviour: { idleTimeoutS: 5 } });
    idle.model.emit({ type: 'ready' });
    vi.advanceTimersByTime(4_000);
    expect(idle.outcomes).toEqual([]);
    idle.clock.now += 6_000;
    vi.advanceTimersByTime(2_000);
    expect(idle.outcomes).toEqual([{ kind: 'completed', reason: 'no one spoke for 6 s' }]);
    expect(idle.model.closed).toBe(true);
    expect(idle.media.closed).toBe(true);

    // the agent's audio is activity too: the limit counts from the last of it, once it has played
    const talked = core({ behaviour: { idleTimeoutS: 5 } });
    talked.model.emit({ type: 'ready' });
    talked.model.startResponse('r1');
    talked.clock.now += 4_000;
    talked.model.emit({ type: 'audio', responseId: 'r1', itemId: 'A', contentIndex: 0, chunk: chunk(100) });
    talked.model.finishResponse('r1');
    for (const mark of talked.media.marks.splice(0)) talked.session.handleMedia({ type: 'played', mark });
    talked.clock.now += 4_000; // 8 s since the call began, 4 s since the agent spoke
    vi.advanceTimersByTime(2_000);
    expect(talked.outcomes).toEqual([]);
    talked.clock.now += 2_000;
    vi.advanceTimersByTime(2_000);
    expect(talked.outcomes).toEqual([{ kind: 'completed', reason: 'no one spoke for 6 s' }]);

    const long = core({ behaviour: { maxDurationS: 60, idleTimeoutS: 3_600 } });
    vi.advanceTimersByTime(60_000);
    expect(long.outcomes).toEqual([{ kind: 'completed', reason: 'maximum call duration reached' }]);
  });

  it('whether a tool call worked comes from its result, not its text: a failure carries its code', async () => {
    const execute = vi.fn(async (call: { name: string }) =>
      call.name === 'a'
        ? { ok: true as const, output: '{"error":null,"price":450}' }
        : { ok: false as const, code: 'timeout' as const, output: '{"error":"slow"}' },
    );
    const { model, events } = core({ tools: { execute } });
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    model.finishResponse('r1', [
      { callId: 'c1', name: 'a', arguments: '{}' },
      { callId: 'c2', name: 'b', arguments: '{}' },
    ]);
    await new Promise((r) => setImmediate(r));
    const calls = events.filter((e) => e.type === 'tool_call');
    expect(calls).toHaveLength(2);
    expect(calls.map((e) => [e.name, e.ok, e.code])).toEqual([
      ['a', true, undefined],
      ['b', false, 'timeout'],
    ]);
    expect(model.toolResults.map((r) => r.output)).toEqual([
      '{"error":null,"price":450}',
      '{"error":"slow"}',
    ]);
  });

  it('end_call after a silent tool turn: the farewell is asked for after the outputs, then the call ends once heard', async () => {
    const execute = vi.fn(async () => ({ ok: true as const, output: '{}' }));
    const { model, media, session, outcomes } = core({ tools: { execute } });
    model.emit({ type: 'ready' });
    model.startResponse('r1');
    session.finishAfterSpeech({
      outcome: { kind: 'completed', reason: 'caller done' },
      farewell: 'Say bye.',
    });
    model.finishResponse('r1', [{ callId: 'c1', name: 'end_call', arguments: '{}' }]);
    await new Promise((r) => setImmediate(r));
    expect(model.requests.at(-1)?.addendum).toBe('Say bye.');
    expect(session.state).toBe('finishing');
    model.startResponse('r2');
    model.emit({ type: 'audio', responseId: 'r2', itemId: 'B', contentIndex: 0, chunk: chunk(300) });
    model.finishResponse('r2');
    expect(outcomes).toEqual([]); // the goodbye is still playing
    session.handleMedia({ type: 'played', mark: media.marks.at(-1)! });
    await new Promise((r) => setImmediate(r));
    expect(outcomes).toEqual([{ kind: 'completed', reason: 'caller done' }]);
  });

  it('a listener that throws is logged and the call goes on', () => {
    const model = new FakeModelSession();
    const outcomes: CallOutcome[] = [];
    const session = new CallSession({
      callSid: 'CA1',
      streamId: 'MZ1',
      media: new InMemoryMedia(),
      model,
      logger: createLogger({ level: 'error', json: true, write: () => {} }),
      behaviour: TEST_BEHAVIOUR,
      onEvent: (e) => {
        if (e.type === 'ended') outcomes.push(e.outcome);
        throw new Error('observer bug');
      },
    });
    session.start();
    model.emit({ type: 'ready' });
    expect(session.state).toBe('active');
    expect(outcomes).toEqual([]);
    session.end({ kind: 'completed', reason: 'bye' });
    expect(outcomes).toEqual([{ kind: 'completed', reason: 'bye' }]);
  });
});

describe('the OpenAI adapter: when the caller really started speaking', () => {
  it('reports how far behind the audio sent the model noticed speech (audio_start_ms includes the prefix padding)', async () => {
    const { OpenAiModelSession } = await import('../../../src/model/openai/model-session.js');
    const { InMemoryRealtime } = await import('../../fakes/in-memory-call.js');
    const realtime = new InMemoryRealtime();
    const model = new OpenAiModelSession(realtime, { instructions: 'x', prefixPaddingMs: 300 });
    const events: unknown[] = [];
    model.subscribe((e) => events.push(e));
    for (let i = 0; i < 50; i++) model.appendAudio(chunk(20)); // 1 s sent
    realtime.emit({ type: 'input_audio_buffer.speech_started', audio_start_ms: 400, item_id: 'u1' });
    // speech began at 700 ms of the audio; 1000 ms had been sent: noticed 300 ms late
    expect(events).toContainEqual({ type: 'speech_started', lagMs: 300 });
  });
});

describe('caller turns (what a confirmation waits for)', () => {
  it('a committed turn and a keypad press each count as the caller’s answer', () => {
    const { model, session } = core();
    model.emit({ type: 'ready' });
    expect(session.callerTurns).toBe(0);
    model.emit({ type: 'turn_committed', answered: true });
    session.handleMedia({ type: 'dtmf', digit: '1' });
    expect(session.callerTurns).toBe(2);
  });
});
