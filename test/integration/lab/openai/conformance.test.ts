import { afterEach, describe, expect, it } from 'vitest';
import { mulawTone } from '../../../../src/audio/mulaw.js';
import { eventually, type Harness, startHarness } from '../../../helpers/call-harness.js';
import {
  conformanceProblems,
  nonConformingEvents,
  serverEventProblems,
} from '../../../helpers/realtime-conformance.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('Realtime client events conform to the published GA schema', () => {
  it('the validator rejects beta-era and malformed events (so a pass means something)', () => {
    expect(
      conformanceProblems({ type: 'session.update', session: { voice: 'ash', modalities: ['audio'] } }),
    ).not.toEqual([]);
    expect(
      conformanceProblems({
        type: 'session.update',
        session: { type: 'realtime', input_audio_format: 'g711_ulaw' },
      }),
    ).toEqual(['session.update: beta-era key session.input_audio_format']);
    expect(
      conformanceProblems({ type: 'conversation.item.truncate', item_id: 'x', content_index: 0 }),
    ).not.toEqual([]);
    expect(conformanceProblems({ type: 'response.audio.delta' })).toEqual([
      'unknown client event type response.audio.delta',
    ]);
  });

  it.each([
    ['server_vad, transcription, noise reduction', {}],
    [
      'semantic_vad, no noise reduction, interrupt_response off',
      {
        realtime: {
          turn_detection: { type: 'semantic_vad', eagerness: 'low', interrupt_response: false },
          noise_reduction: 'off',
          transcription: { model: 'gpt-4o-transcribe', language: 'en' },
        },
        voice: 'cedar',
      },
    ],
    ['idle timeout', { realtime: { turn_detection: { type: 'server_vad', idle_timeout_ms: 8000 } } }],
  ])('every event of a full call (%s)', async (_name, agent) => {
    h = await startHarness({
      agent,
      fake: {
        recordServerEvents: true,
        deltaIntervalMs: 50,
        brain: (ctx) =>
          ctx.trigger === 'create' && ctx.toolOutputs.length === 0 && ctx.callerTurns === 0
            ? { say: 'Hello there, how can I help you today?' }
            : ctx.callerTurns === 1 && ctx.toolOutputs.length === 0
              ? { call: [{ name: 'get_quote', arguments: { rooms: 2 } }] }
              : { say: 'Here is a long answer for you to interrupt.', audioMs: 3000 },
      },
    });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => caller.playback.heardMs() > 300);
    await caller.speak(mulawTone(400)); // barge into the greeting
    await caller.pause(800);
    const rt = h.fake.sessions[0]!;
    await eventually(() => rt.sent('conversation.item.create').length >= 1); // function_call_output
    await eventually(() => caller.playback.heardMs() > 2000);
    caller.pressKey('7');
    await caller.speak(mulawTone(300));
    await caller.pause(300);
    await caller.hangUp();
    const events = rt.received;
    const bargeIn =
      (agent as { realtime?: { turn_detection?: { interrupt_response?: boolean } } }).realtime?.turn_detection
        ?.interrupt_response !== false;
    const types = new Set(events.map((e) => e.type));
    types.delete('conversation.item.delete'); // sent only when an unheard item was queued
    expect(types).toEqual(
      new Set([
        'session.update',
        'input_audio_buffer.append',
        'response.create',
        'conversation.item.create',
        ...(bargeIn ? ['conversation.item.truncate'] : []),
      ]),
    );
    expect(rt.errors).toEqual([]);
    expect(nonConformingEvents(events)).toEqual([]);
    // and the stand-in's own side: every server event it sent in that call, as the schema allows
    expect(rt.emitted.length).toBeGreaterThan(30);
    expect([...new Set(rt.emitted.flatMap(serverEventProblems))]).toEqual([]);
  });
});
