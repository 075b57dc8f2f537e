import { describe, expect, it, vi } from 'vitest';
import { type CallBehaviour, CallSession } from '../../../src/bridge/call-session.js';
import type { CallOutcome, ToolExecutor } from '../../../src/bridge/ports.js';
import { createLogger } from '../../../src/observability/logger.js';
import { FakeModelSession } from '../../fakes/fake-model-session.js';
import { InMemoryMedia, TEST_BEHAVIOUR } from '../../fakes/in-memory-call.js';

/** The call core alone, on fakes of its own ports: no provider wire format anywhere. */
function core(options: { behaviour?: Partial<CallBehaviour>; tools?: ToolExecutor } = {}) {
  const model = new FakeModelSession();
  const media = new InMemoryMedia();
  const outcomes: CallOutcome[] = [];
  const clock = { now: 0 };
  const session = new CallSession({
    callSid: 'CA1',
    streamSid: 'MZ1',
    media,
    model,
    logger: createLogger({ level: 'error', json: true, write: () => {} }),
    now: () => clock.now,
    tools: options.tools,
    behaviour: { ...TEST_BEHAVIOUR, ...options.behaviour },
    onEnded: (o) => outcomes.push(o),
  });
  session.start();
  return { session, model, media, outcomes, clock };
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
    clock.now = 200;
    model.emit({ type: 'speech_started' });
    expect(media.clears).toBe(1);
    expect(model.forgotten).toEqual([[{ itemId: 'A', responseId: 'r1', contentIndex: 0, audioEndMs: 200 }]]);
  });

  it('runs tool calls once the response is done, returns each output, then asks for one answer', async () => {
    const execute = vi.fn(async () => '{"ok":true}');
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
});
