import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CallEvent } from '../../../../src/bridge/call-events.js';
import type { ToolResult } from '../../../../src/bridge/tool-ports.js';
import { SESSION_CONFIG_EVENT_ID } from '../../../../src/model/openai/session-config.js';
import { InMemoryMedia, inMemoryCall, settle, wire } from '../../../fakes/in-memory-call.js';

type Create = {
  type: string;
  event_id: string;
  response: { instructions?: string; metadata: { request: string } };
};
const creates = (call: ReturnType<typeof inMemoryCall>) =>
  call.realtime.of('response.create') as unknown as Create[];

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('CallSession: one call can never take the server down', () => {
  it('a tool executor that throws becomes an error output the model can talk about', async () => {
    const call = inMemoryCall({
      tools: {
        execute: () => {
          throw new Error('provider bug');
        },
      },
    });
    call.configure();
    call.realtime.emit(wire.created('r1'));
    call.realtime.emit(wire.functionCall('r1', 'c1', 'get_quote'));
    call.realtime.emit(wire.done('r1'));
    await settle();
    const output = call.realtime.of('conversation.item.create')[0] as {
      item: { call_id: string; output: string };
    };
    expect(output.item.call_id).toBe('c1');
    expect(JSON.parse(output.item.output).error).toContain('provider bug');
    expect(call.session.state).toBe('active');
    expect(creates(call)).toHaveLength(1); // and the model is asked to answer with it
  });

  it('a tool executor that rejects is answered the same way', async () => {
    const call = inMemoryCall({ tools: { execute: () => Promise.reject(new Error('down')) } });
    call.configure();
    call.realtime.emit(wire.created('r1'));
    call.realtime.emit(wire.functionCall('r1', 'c1', 'book_move'));
    call.realtime.emit(wire.done('r1'));
    await settle();
    expect(call.realtime.of('conversation.item.create')).toHaveLength(1);
    expect(call.session.state).toBe('active');
  });

  it('a throwing call-end observer cannot make end() throw', () => {
    const call = inMemoryCall({
      onEnded: () => {
        throw new Error('observer bug');
      },
    });
    expect(() => call.session.end({ kind: 'completed', reason: 'bye' })).not.toThrow();
    expect(call.outcomes).toEqual([{ kind: 'completed', reason: 'bye' }]);
    expect(call.realtime.closed).toBe(true);
    expect(call.media.closed).toBe(true);
    expect(call.logs.join('\n')).toContain('observer bug');
  });

  it('a bug while handling an event ends this call with the fallback and a logged reason', () => {
    const call = inMemoryCall();
    vi.spyOn(InMemoryMedia.prototype, 'sendMedia').mockImplementation(() => {
      throw new Error('socket exploded');
    });
    call.configure();
    call.realtime.emit(wire.created('r1'));
    expect(() => call.realtime.emit(wire.delta('r1', 'i1', 100))).not.toThrow();
    expect(call.outcomes[0]).toMatchObject({ kind: 'failed', code: 'internal' });
    expect(call.outcomes[0]!.reason).toContain('socket exploded');
    expect(call.logs.join('\n')).toContain('internal error while handling the model event audio');
  });
});

describe('CallSession: the Realtime wire, exactly', () => {
  it('a rejected session.update ends the call at once (never a call on the service defaults)', () => {
    const call = inMemoryCall({ behaviour: { greeting: 'Hello!' } });
    call.realtime.emit(wire.error('invalid_value', SESSION_CONFIG_EVENT_ID));
    expect(call.outcomes[0]).toMatchObject({ kind: 'failed', code: 'model_config_rejected' });
    expect(call.outcomes[0]!.reason).toContain('OpenAI rejected the session configuration');
    expect(creates(call)).toEqual([]); // no greeting on a misconfigured session
  });

  it('any error before the first session.updated is fatal too', () => {
    const call = inMemoryCall();
    call.realtime.emit(wire.error('unknown_parameter'));
    expect(call.outcomes[0]).toMatchObject({ kind: 'failed' });
  });

  it('a session.updated that does not echo audio/pcmu ends the call', () => {
    const call = inMemoryCall({ behaviour: { greeting: 'Hello!' } });
    call.realtime.emit({
      type: 'session.updated',
      session: { audio: { output: { format: { type: 'audio/pcm', rate: 24000 } } } },
    });
    expect(call.outcomes[0]!.reason).toContain('audio/pcm, not audio/pcmu');
  });

  it('the call moves connecting → greeting → active → finishing → ended', async () => {
    const call = inMemoryCall({ behaviour: { greeting: 'Hello!' } });
    expect(call.session.state).toBe('connecting');
    call.configure();
    expect(call.session.state).toBe('greeting');
    const greeting = creates(call)[0]!;
    call.realtime.emit(wire.created('g', greeting.response.metadata.request));
    call.realtime.emit(wire.done('g'));
    expect(call.session.state).toBe('active');
    call.session.finishAfterSpeech({ outcome: { kind: 'completed', reason: 'bye' }, farewell: 'Bye.' });
    expect(call.session.state).toBe('finishing');
    call.session.handleMedia({ type: 'stopped' });
    expect(call.session.state).toBe('ended');
  });

  it('a caller who speaks during the greeting makes the call active', () => {
    const call = inMemoryCall({ behaviour: { greeting: 'Hello!' } });
    call.configure();
    call.realtime.emit(wire.speechStarted());
    expect(call.session.state).toBe('active');
  });

  it('the greeting keeps the agent instructions and adds the exact words', () => {
    const call = inMemoryCall({ behaviour: { greeting: 'Thanks for calling Ada Moving!' } });
    call.configure();
    const instructions = creates(call)[0]!.response.instructions!;
    expect(
      instructions.startsWith('You are Ada, the moving company assistant. Always answer in English.'),
    ).toBe(true);
    expect(instructions).toContain('"Thanks for calling Ada Moving!"');
  });

  it('a greeting refused because the server VAD started a response first is sent after that response', () => {
    const call = inMemoryCall({ behaviour: { greeting: 'Hello!' } });
    call.configure();
    const [greeting] = creates(call);
    call.realtime.emit(wire.created('vad1')); // the VAD's, created just before ours arrived
    call.realtime.emit(wire.error('conversation_already_has_active_response', greeting!.event_id));
    expect(creates(call)).toHaveLength(1);
    call.realtime.emit(wire.done('vad1'));
    expect(creates(call)).toHaveLength(2);
    expect(creates(call)[1]!.response.instructions).toBe(greeting!.response.instructions);
  });

  it('tool outputs finished while another response runs get their response.create after it', async () => {
    let finishTool: (value: ToolResult) => void = () => {};
    const call = inMemoryCall({ tools: { execute: () => new Promise((resolve) => (finishTool = resolve)) } });
    call.configure();
    call.realtime.emit(wire.created('r1'));
    call.realtime.emit(wire.functionCall('r1', 'c1', 'check_availability'));
    call.realtime.emit(wire.done('r1'));
    call.realtime.emit(wire.created('r2')); // e.g. the model prompted by idle_timeout_ms
    finishTool({ ok: true, output: '{"available":true}' });
    await settle();
    expect(creates(call)).toEqual([]); // not while r2 runs: it would be refused
    call.realtime.emit(wire.done('r2'));
    expect(creates(call)).toHaveLength(1);
  });

  it('a farewell keeps the agent instructions, and only its own response.done lets the call end', async () => {
    let finishCall = () => {};
    const call = inMemoryCall({
      tools: {
        execute: async () => {
          finishCall();
          return { ok: true as const, output: '{"ok":true}' };
        },
      },
    });
    finishCall = () =>
      call.session.finishAfterSpeech({
        outcome: { kind: 'completed', reason: 'done' },
        farewell: 'Say goodbye now.',
      });
    call.configure();
    call.realtime.emit(wire.created('r1'));
    call.realtime.emit(wire.functionCall('r1', 'c1', 'end_call'));
    call.realtime.emit(wire.done('r1'));
    await settle();
    const farewell = creates(call)[0]!;
    expect(farewell.response.instructions).toBe(
      'You are Ada, the moving company assistant. Always answer in English.\n\nSay goodbye now.',
    );
    // the VAD wins the race: its response is not the farewell, so the call does not end on it
    call.realtime.emit(wire.created('vad'));
    call.realtime.emit(wire.error('conversation_already_has_active_response', farewell.event_id));
    call.realtime.emit(wire.done('vad'));
    await settle();
    expect(call.outcomes).toEqual([]);
    const again = creates(call)[1]!;
    call.realtime.emit(wire.created('r3', again.response.metadata.request));
    call.realtime.emit(wire.done('r3'));
    await settle();
    expect(call.outcomes).toEqual([{ kind: 'completed', reason: 'done' }]);
  });

  it('barge-in: clear, truncate the playing item where heard, delete the unheard ones, drop late deltas', () => {
    const call = inMemoryCall();
    call.configure();
    call.realtime.emit(wire.created('r1'));
    call.realtime.emit(wire.delta('r1', 'A', 1000));
    call.realtime.emit(wire.done('r1'));
    call.realtime.emit(wire.created('r2'));
    call.realtime.emit(wire.delta('r2', 'B', 400));
    call.clock.now = 300;
    call.realtime.emit(wire.speechStarted());
    expect(call.media.clears).toBe(1);
    expect(call.realtime.of('conversation.item.truncate')).toEqual([
      { type: 'conversation.item.truncate', item_id: 'A', content_index: 0, audio_end_ms: 300 },
    ]);
    expect(call.realtime.of('conversation.item.delete')).toEqual([
      { type: 'conversation.item.delete', item_id: 'B' },
    ]);
    const frames = call.media.frames.length;
    call.realtime.emit(wire.delta('r2', 'B', 200)); // still on the wire before the server's cancel landed
    expect(call.media.frames.length).toBe(frames);
  });

  it('interrupt_response off: the agent finishes, and a turn ended meanwhile is answered afterwards', () => {
    const call = inMemoryCall({ behaviour: { interruptResponse: false } });
    call.configure();
    call.realtime.emit(wire.created('r1'));
    call.realtime.emit(wire.delta('r1', 'A', 1000));
    call.realtime.emit(wire.speechStarted());
    call.realtime.emit(wire.committed());
    expect(call.media.clears).toBe(0);
    expect(call.realtime.of('conversation.item.truncate')).toEqual([]);
    expect(call.realtime.of('response.cancel')).toEqual([]);
    expect(creates(call)).toEqual([]);
    call.realtime.emit(wire.done('r1'));
    expect(creates(call)).toHaveLength(1);
  });

  it('create_response off: the bridge asks for the answer to each caller turn', () => {
    const call = inMemoryCall({ createResponse: false });
    call.configure();
    call.realtime.emit(wire.speechStarted());
    call.realtime.emit(wire.committed());
    expect(creates(call)).toHaveLength(1);
  });
});

describe('CallSession: a stalled Twilio reader', () => {
  it('audio the stream refused is not counted as heard: no mark, and barge-in deletes the item', () => {
    const call = inMemoryCall();
    vi.spyOn(InMemoryMedia.prototype, 'sendMedia').mockReturnValue(false);
    call.configure();
    call.realtime.emit(wire.created('r1'));
    call.realtime.emit(wire.delta('r1', 'A', 500));
    expect(call.media.marks).toEqual([]);
    call.realtime.emit(wire.speechStarted());
    expect(call.realtime.of('conversation.item.delete')).toEqual([
      { type: 'conversation.item.delete', item_id: 'A' },
    ]);
  });
});

describe('CallSession: the call event stream', () => {
  it('reports what happened, in order, with call times', async () => {
    const events: CallEvent[] = [];
    const call = inMemoryCall({
      behaviour: { greeting: 'Hello!' },
      tools: { execute: async () => ({ ok: true as const, output: '{"price":240}' }) },
      onEvent: (e) => events.push(e),
    });
    call.configure();
    const greeting = creates(call)[0]!;
    call.realtime.emit(wire.created('g', greeting.response.metadata.request));
    call.clock.now = 100;
    call.realtime.emit(wire.delta('g', 'A', 1000));
    call.realtime.emit({
      type: 'response.output_audio_transcript.done',
      response_id: 'g',
      item_id: 'A',
      transcript: 'Hello!',
    });
    call.clock.now = 400;
    call.realtime.emit(wire.speechStarted());
    call.realtime.emit(wire.done('g'));
    call.realtime.emit({ type: 'input_audio_buffer.speech_stopped', item_id: 'u1' });
    call.realtime.emit(wire.created('r1'));
    call.realtime.emit(wire.functionCall('r1', 'c1', 'get_quote', '{"rooms":2}'));
    call.realtime.emit(wire.done('r1'));
    await settle();
    call.session.end({ kind: 'completed', reason: 'bye' });
    expect(events.map((e) => e.type)).toEqual([
      'started',
      'state', // greeting
      'agent_speech_started',
      'latency', // greeting
      'transcript',
      'state', // active: the caller spoke
      'caller_speech_started',
      'agent_speech_stopped', // interrupted
      'barge_in',
      'caller_speech_stopped',
      'tool_started',
      'tool_call',
      'state', // ended
      'ended',
    ]);
    expect(events.find((e) => e.type === 'barge_in')).toEqual({
      type: 'barge_in',
      atMs: 400,
      cut: [{ itemId: 'A', heardMs: 300 }],
      stopMs: 0,
    });
    expect(events.find((e) => e.type === 'tool_call')).toMatchObject({
      name: 'get_quote',
      arguments: '{"rooms":2}',
      output: '{"price":240}',
      ok: true,
    });
    expect(events.at(-1)).toMatchObject({ type: 'ended', outcome: { kind: 'completed' }, atMs: 400 });
  });

  it('a listener that throws is logged; the call goes on', () => {
    const call = inMemoryCall({
      onEvent: () => {
        throw new Error('listener bug');
      },
    });
    call.configure();
    expect(call.session.state).toBe('active');
    expect(call.outcomes).toEqual([]);
    expect(call.logs.join('\n')).toContain('a call event listener failed');
  });
});

describe('CallSession: limits', () => {
  it('call.max_duration_s ends the call with a hang-up, however old the model session is', () => {
    vi.useFakeTimers();
    const call = inMemoryCall({ behaviour: { maxDurationS: 7200 }, openedAt: -(59 * 60_000) });
    vi.advanceTimersByTime(60 * 60_000); // past the model session's limit: that is the adapter's business
    expect(call.outcomes).toEqual([]);
    vi.advanceTimersByTime(60 * 60_000);
    expect(call.outcomes).toEqual([{ kind: 'completed', reason: 'maximum call duration reached' }]);
  });
});

describe('CallSession: caller audio', () => {
  const frame = Buffer.alloc(160, 0xff).toString('base64');

  it('never fills more silence than the time that really passed (jumping timestamps)', () => {
    const call = inMemoryCall();
    for (let i = 0; i < 200; i++) {
      call.clock.now = i * 20;
      call.session.handleMedia({ type: 'audio', payload: frame, timestampMs: i % 2 ? 1e12 : 0 });
    }
    expect(call.realtime.appended).toBe(200 * 160); // the frames, no invented silence
  });

  it('fills a real gap, once: the inactivity pad is not padded again when frames resume', () => {
    vi.useFakeTimers();
    const call = inMemoryCall();
    call.session.handleMedia({ type: 'audio', payload: frame, timestampMs: 0 });
    call.realtime.emit(wire.speechStarted());
    call.clock.now = 2040;
    vi.advanceTimersByTime(1000); // the 750 ms inactivity pad: 1 s of silence
    call.session.handleMedia({ type: 'audio', payload: frame, timestampMs: 2040 });
    // 2060 ms of media time: two frames (40 ms) and 2020 ms of silence, not 3020 ms
    expect(call.realtime.appended / 8).toBeCloseTo(2060, 0); // silence comes in 3-byte groups
  });
});
