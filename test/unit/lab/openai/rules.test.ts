import { describe, expect, it } from 'vitest';
import { checkSessionUpdate } from '../../../../src/lab/openai/rules.js';

/** The fake must reject what the service rejects — and accept what it accepts — or it proves nothing. */
const update = (session: Record<string, unknown>) =>
  checkSessionUpdate({ type: 'session.update', session: { type: 'realtime', ...session } });
const input = (fields: Record<string, unknown>) => update({ audio: { input: fields } });

describe('the fake Realtime service rules', () => {
  it.each([
    ['a transcription model that does not exist', input({ transcription: { model: 'gpt-4o-transcrbe' } })],
    ['a language that is not ISO-639-1', input({ transcription: { language: 'english' } })],
    ['a noise reduction type that does not exist', input({ noise_reduction: { type: 'near' } })],
    [
      'an eagerness that does not exist',
      input({ turn_detection: { type: 'semantic_vad', eagerness: 'eager' } }),
    ],
    ['a VAD threshold above 1', input({ turn_detection: { type: 'server_vad', threshold: 2 } })],
    ['a speed above 1.5', update({ audio: { output: { speed: 3 } } })],
    ['audio/pcm without its rate', update({ audio: { output: { format: { type: 'audio/pcm' } } } })],
    [
      'a tool whose required is not a list',
      update({
        tools: [
          { type: 'function', name: 't', description: '', parameters: { type: 'object', required: 'a' } },
        ],
      }),
    ],
    ['a beta-era key', update({ voice: 'marin' })],
  ])('rejects %s', (_what, violation) => {
    expect(violation).toBeDefined();
  });

  it.each([
    [
      'parallel_tool_calls and reasoning',
      update({ parallel_tool_calls: true, reasoning: { effort: 'low' } }),
    ],
    ['a custom voice', update({ audio: { output: { voice: { id: 'voice_1234' } } } })],
    ['noise reduction off (null)', input({ noise_reduction: null })],
    ['audio/pcm at 24 kHz', update({ audio: { output: { format: { type: 'audio/pcm', rate: 24000 } } } })],
    [
      'the Twilio configuration',
      input({ format: { type: 'audio/pcmu' }, transcription: { model: 'whisper-1', language: 'en' } }),
    ],
  ])('accepts %s', (_what, violation) => {
    expect(violation).toBeUndefined();
  });
});
