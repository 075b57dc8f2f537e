import { describe, expect, it } from 'vitest';
import { buildSessionUpdate, SESSION_CONFIG_EVENT_ID } from '../../../../src/model/openai/session-config.js';
import { testAgent } from '../../../helpers/call-harness.js';

describe('buildSessionUpdate', () => {
  it('builds the GA shape for a Twilio call: pcmu both ways, voice and VAD under audio', () => {
    const event = buildSessionUpdate(
      testAgent({
        voice: 'cedar',
        realtime: { turn_detection: { type: 'server_vad', idle_timeout_ms: 6000 }, speed: 1.1 },
      }),
      [
        {
          name: 'get_quote',
          description: 'd',
          parameters: { type: 'object', properties: {} },
        },
      ],
    );
    expect(event).toEqual({
      type: 'session.update',
      event_id: SESSION_CONFIG_EVENT_ID,
      session: {
        type: 'realtime',
        instructions: 'You are a test agent.',
        output_modalities: ['audio'],
        audio: {
          input: {
            format: { type: 'audio/pcmu' },
            noise_reduction: { type: 'near_field' },
            transcription: { model: 'gpt-live-transcribe' },
            turn_detection: {
              type: 'server_vad',
              threshold: 0.5,
              prefix_padding_ms: 300,
              silence_duration_ms: 500,
              create_response: true,
              interrupt_response: true,
              idle_timeout_ms: 6000,
            },
          },
          output: { format: { type: 'audio/pcmu' }, voice: 'cedar', speed: 1.1 },
        },
        tools: [
          {
            type: 'function',
            name: 'get_quote',
            description: 'd',
            parameters: { type: 'object', properties: {} },
          },
        ],
        tool_choice: 'auto',
      },
    });
  });

  it('leaves noise reduction out when it is off and maps semantic_vad', () => {
    const { session } = buildSessionUpdate(
      testAgent({
        realtime: { noise_reduction: 'off', turn_detection: { type: 'semantic_vad', eagerness: 'high' } },
      }),
      [],
    );
    expect(session.type === 'realtime' && session.audio?.input).toEqual({
      format: { type: 'audio/pcmu' },
      transcription: { model: 'gpt-live-transcribe' },
      turn_detection: {
        type: 'semantic_vad',
        eagerness: 'high',
        create_response: true,
        interrupt_response: true,
      },
    });
  });
});
