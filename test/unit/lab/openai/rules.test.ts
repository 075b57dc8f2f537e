import { describe, expect, it } from 'vitest';
import { checkSessionUpdate } from '../../../../src/lab/openai/rules.js';

/** The fake must reject what the service rejects — and accept what it accepts — or it proves nothing. */
const update = (session: Record<string, unknown>) =>
  checkSessionUpdate({ type: 'session.update', session: { type: 'realtime', ...session } });
const input = (fields: Record<string, unknown>) => update({ audio: { input: fields } });

describe('the fake Realtime service rules', () => {
  // each case names the rule that must fire: a violation for another reason would prove nothing
  it.each([
    [
      'a transcription model that does not exist',
      input({ transcription: { model: 'gpt-4o-transcrbe' } }),
      { code: 'invalid_value', param: 'session.audio.input.transcription.model' },
    ],
    [
      'a language that is not ISO-639-1',
      input({ transcription: { language: 'english' } }),
      { code: 'invalid_value', param: 'session.audio.input.transcription.language' },
    ],
    [
      'a noise reduction type that does not exist',
      input({ noise_reduction: { type: 'near' } }),
      { code: 'invalid_value', param: 'session.audio.input.noise_reduction.type' },
    ],
    [
      'an eagerness that does not exist',
      input({ turn_detection: { type: 'semantic_vad', eagerness: 'eager' } }),
      { code: 'invalid_value', param: 'session.audio.input.turn_detection.eagerness' },
    ],
    [
      'a VAD threshold above 1',
      input({ turn_detection: { type: 'server_vad', threshold: 2 } }),
      { code: 'invalid_value', param: 'session.audio.input.turn_detection.threshold' },
    ],
    [
      'a speed above 1.5',
      update({ audio: { output: { speed: 3 } } }),
      { code: 'invalid_value', param: 'session.audio.output.speed' },
    ],
    [
      'audio/pcm without its rate',
      update({ audio: { output: { format: { type: 'audio/pcm' } } } }),
      { code: 'missing_required_parameter', param: 'session.audio.output.format.rate' },
    ],
    [
      'a tool whose required is not a list',
      update({
        tools: [
          { type: 'function', name: 't', description: '', parameters: { type: 'object', required: 'a' } },
        ],
      }),
      { code: 'invalid_function_parameters', message: "Invalid schema for function 't'" },
    ],
    ['a beta-era key', update({ voice: 'marin' }), { code: 'unknown_parameter', param: 'session.voice' }],
  ])('rejects %s', (_what, violation, rule) => {
    expect(violation).toMatchObject(rule);
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
