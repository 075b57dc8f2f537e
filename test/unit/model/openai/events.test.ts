import { describe, expect, it } from 'vitest';
import { parseServerEvent } from '../../../../src/model/openai/events.js';

describe('parseServerEvent', () => {
  it('reads GA events and maps legacy beta names to them', () => {
    const delta = { response_id: 'r', item_id: 'i', content_index: 0, delta: 'AAA=' };
    const ga = parseServerEvent(JSON.stringify({ type: 'response.output_audio.delta', ...delta }));
    expect(ga).toEqual({
      type: 'response.output_audio.delta',
      responseId: 'r',
      itemId: 'i',
      contentIndex: 0,
      delta: 'AAA=',
    });
    expect(parseServerEvent(JSON.stringify({ type: 'response.audio.delta', ...delta }))).toEqual(ga);
    expect(
      parseServerEvent(
        JSON.stringify({ type: 'response.audio_transcript.done', item_id: 'i', transcript: 'hi' }),
      ),
    ).toEqual({
      type: 'response.output_audio_transcript.done',
      itemId: 'i',
      transcript: 'hi',
    });
  });

  it('reads an audio delta as the service sends it and in any other form alike', () => {
    const delta = Buffer.alloc(480, 0x55).toString('base64');
    const asSent = `{"type":"response.output_audio.delta","event_id":"event_CX1","response_id":"resp_CX2","item_id":"item_CX3","output_index":0,"content_index":1,"delta":"${delta}"}`;
    const expected = {
      type: 'response.output_audio.delta',
      responseId: 'resp_CX2',
      itemId: 'item_CX3',
      contentIndex: 1,
      delta,
    };
    expect(parseServerEvent(asSent)).toEqual(expected);
    expect(parseServerEvent(JSON.stringify(JSON.parse(asSent), null, 1))).toEqual(expected);
    const { delta: _, ...rest } = JSON.parse(asSent);
    expect(parseServerEvent(JSON.stringify({ delta, ...rest }))).toEqual(expected);
  });

  it('drops an audio delta that is not base64 in every form (it would break the phone frame)', () => {
    const asSent = (delta: string) =>
      `{"type":"response.output_audio.delta","event_id":"e","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"${delta}"}`;
    expect(parseServerEvent(asSent('AAA='))).toMatchObject({ delta: 'AAA=' });
    for (const bad of ['AA\\"A', 'AA A', 'A=AA', 'AA\\u0022'])
      expect(parseServerEvent(asSent(bad)), bad).toBeUndefined();
    // escapes the pattern refuses still reach the full parser, which decodes them
    expect(parseServerEvent(asSent('AA\\/A'))).toMatchObject({ delta: 'AA/A' });
    expect(parseServerEvent(asSent('AA\\u0041'))).toMatchObject({ delta: 'AAA' });
  });

  it('passes unknown events as generic ones and ignores junk', () => {
    expect(parseServerEvent('{"type":"rate_limits.updated","rate_limits":[]}')).toEqual({
      type: 'other',
      name: 'rate_limits.updated',
    });
    expect(parseServerEvent('not json')).toBeUndefined();
    expect(parseServerEvent('{"no":"type"}')).toBeUndefined();
  });

  it('keeps only completed function calls distinguishable and reads failed responses', () => {
    const done = parseServerEvent(
      JSON.stringify({
        type: 'response.done',
        response: {
          id: 'r1',
          status: 'failed',
          status_details: {
            type: 'failed',
            error: { type: 'rate_limit', code: 'rate_limit_exceeded', message: 'slow down' },
          },
          output: [
            { type: 'message', id: 'm' },
            {
              type: 'function_call',
              id: 'f',
              call_id: 'c',
              name: 'get_quote',
              arguments: '{}',
              status: 'incomplete',
            },
          ],
        },
      }),
    );
    expect(done).toEqual({
      type: 'response.done',
      responseId: 'r1',
      status: 'failed',
      statusError: 'slow down',
      functionCalls: [
        {
          type: 'function_call',
          id: 'f',
          callId: 'c',
          name: 'get_quote',
          arguments: '{}',
          status: 'incomplete',
        },
      ],
      usage: undefined,
    });
  });

  it('reads token usage by kind, cached tokens included in the input counts', () => {
    const done = parseServerEvent(
      JSON.stringify({
        type: 'response.done',
        response: {
          id: 'r1',
          status: 'completed',
          output: [],
          usage: {
            total_tokens: 410,
            input_tokens: 300,
            output_tokens: 110,
            input_token_details: {
              text_tokens: 250,
              audio_tokens: 50,
              image_tokens: 0,
              cached_tokens: 200,
              cached_tokens_details: { text_tokens: 192, audio_tokens: 8, image_tokens: 0 },
            },
            output_token_details: { text_tokens: 30, audio_tokens: 80 },
          },
        },
      }),
    );
    expect(done).toMatchObject({
      usage: {
        inputTextTokens: 250,
        inputAudioTokens: 50,
        cachedTextTokens: 192,
        cachedAudioTokens: 8,
        outputTextTokens: 30,
        outputAudioTokens: 80,
      },
    });
  });
});
