import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeClientEvent, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { afterEach, describe, expect, it } from 'vitest';
import { mulawTone } from '../../../../src/audio/mulaw.js';
import { type FakeRealtimeServer, startFakeRealtime } from '../../../fakes/fake-realtime-server.js';
import { eventually } from '../../../helpers/call-harness.js';
import { serverEventProblems } from '../../../helpers/realtime-conformance.js';
import { fetchTrustingLoopback, LOOPBACK_CA, startTlsTerminator } from '../../../helpers/tls-terminator.js';

/**
 * Real clients judge our fake (house rule 16): the official `openai` Realtime WebSocket client and
 * `@openai/agents-realtime` drive the local stand-in. Valid payloads from the openai package's types
 * must be accepted, invalid values refused in the service's error shape, and a full agent session
 * with a tool call must run to its end.
 */

const KEY = 'sk-third-party';
let fake: FakeRealtimeServer | undefined;
let tls: Awaited<ReturnType<typeof startTlsTerminator>> | undefined;
const sockets: OpenAIRealtimeWS[] = [];

afterEach(async () => {
  for (const rt of sockets.splice(0)) rt.close();
  await tls?.close();
  await fake?.close();
  fake = tls = undefined;
});

/** An OpenAIRealtimeWS session on the stand-in (through TLS), with every event it received. */
async function officialClient() {
  fake ??= await startFakeRealtime({ apiKey: KEY });
  tls ??= await startTlsTerminator(Number(new URL(fake.url).port));
  const client = new OpenAI({ apiKey: KEY, baseURL: `https://127.0.0.1:${tls.port}/v1` });
  const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime-2.1', options: { ca: LOOPBACK_CA } }, client);
  sockets.push(rt);
  const events: RealtimeServerEvent[] = [];
  const errors: { code?: string | null; type?: string; message?: string; event_id?: string | null }[] = [];
  rt.on('event', (e) => events.push(e));
  rt.on('error', (e) => errors.push({ ...(e.error ?? {}) }));
  await eventually(() => events.some((e) => e.type === 'session.created'), 5_000);
  /** Sends one event and waits for the answer to it (an event of `expect`, or an error). */
  const exchange = async (event: RealtimeClientEvent, expect: string) => {
    const seen = events.length;
    const errorsSeen = errors.length;
    rt.send(event);
    await eventually(
      () => errors.length > errorsSeen || events.slice(seen).some((e) => e.type === expect),
      5_000,
    );
    return errors.length > errorsSeen ? { error: errors.at(-1)! } : { ok: true as const };
  };
  return { rt, events, errors, exchange };
}

const session = (fields: Record<string, unknown>): RealtimeClientEvent =>
  ({ type: 'session.update', session: { type: 'realtime', ...fields } }) as RealtimeClientEvent;

describe('the official openai client (OpenAIRealtimeWS) on the local stand-in', () => {
  it('accepts valid payloads from the openai package types, including the current transcription models', async () => {
    const { exchange, events } = await officialClient();
    const created = events.find((e) => e.type === 'session.created') as unknown as {
      session: Record<string, unknown>;
    };
    expect(created.session).toMatchObject({ model: 'gpt-realtime-2.1', expires_at: expect.any(Number) });
    const valid: RealtimeClientEvent[] = [
      session({
        audio: {
          input: {
            format: { type: 'audio/pcmu' },
            transcription: {
              model: 'gpt-live-transcribe',
              languages: ['en', 'es'],
              keywords: ['Swift Movers'],
            },
          },
        },
      }),
      session({ audio: { input: { transcription: { model: 'gpt-transcribe', language: 'en' } } } }),
      session({ tools: [{ type: 'mcp', server_label: 'crm', server_url: 'https://crm.example.com/mcp' }] }),
      session({ tools: [{ type: 'function', name: 'ping', description: 'No arguments.' }] }),
      session({ max_output_tokens: 4096, output_modalities: ['audio'], tool_choice: 'required' }),
      session({ tool_choice: { type: 'function', name: 'ping' } }),
    ];
    for (const event of valid) expect(await exchange(event, 'session.updated')).toEqual({ ok: true });
  });

  it('refuses invalid values with the service error shape (type, code, message, the event_id it answers)', async () => {
    const { exchange } = await officialClient();
    const invalid: [RealtimeClientEvent, string][] = [
      [session({ max_output_tokens: 5000 }), 'integer_above_max_value'],
      [session({ output_modalities: ['audio', 'text'] }), 'invalid_value'],
      [session({ tool_choice: 'bogus' }), 'invalid_value'],
      [session({ audio: { input: { transcription: { model: 'gpt-4o-transcrbe' } } } }), 'invalid_value'],
      [
        { type: 'response.create', response: { metadata: { attempt: 2 } } } as unknown as RealtimeClientEvent,
        'invalid_value',
      ],
      [
        {
          type: 'conversation.item.create',
          previous_item_id: 'item_nowhere',
          item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
        },
        'item_not_found',
      ],
      [{ type: 'input_audio_buffer.commit' }, 'input_audio_buffer_commit_empty'],
      [{ type: 'conversation.item.retrieve', item_id: 'item_nowhere' }, 'item_not_found'],
    ];
    let n = 0;
    for (const [event, code] of invalid) {
      const tagged = { ...event, event_id: `evt_${++n}` } as RealtimeClientEvent;
      const answer = await exchange(tagged, '__never__');
      expect(answer, JSON.stringify(event)).toEqual({
        error: expect.objectContaining({ type: 'invalid_request_error', code, event_id: `evt_${n}` }),
      });
    }
  });

  it('acknowledges commit, clear and retrieve; a partial session.update keeps the rest of the configuration', async () => {
    const { rt, exchange, events } = await officialClient();
    const ours = session({
      audio: {
        input: { format: { type: 'audio/pcmu' }, turn_detection: null },
        output: { format: { type: 'audio/pcmu' }, voice: 'marin' },
      },
    });
    expect(await exchange(ours, 'session.updated')).toEqual({ ok: true });
    expect(await exchange(session({ audio: { output: { speed: 1.2 } } }), 'session.updated')).toEqual({
      ok: true,
    });
    const updated = events.filter((e) => e.type === 'session.updated').at(-1) as unknown as {
      session: { audio: { input: { format: unknown }; output: Record<string, unknown> } };
    };
    expect(updated.session.audio.output).toMatchObject({
      format: { type: 'audio/pcmu' },
      voice: 'marin',
      speed: 1.2,
    });
    expect(updated.session.audio.input.format).toEqual({ type: 'audio/pcmu' });

    rt.send({ type: 'input_audio_buffer.append', audio: mulawTone(300).toString('base64') });
    expect(await exchange({ type: 'input_audio_buffer.commit' }, 'input_audio_buffer.committed')).toEqual({
      ok: true,
    });
    const item = events.find((e) => e.type === 'conversation.item.done') as {
      item: { id: string; content: unknown };
    };
    expect(item.item.content).toEqual([{ type: 'input_audio', transcript: null }]);
    expect(
      await exchange(
        { type: 'conversation.item.retrieve', item_id: item.item.id },
        'conversation.item.retrieved',
      ),
    ).toEqual({ ok: true });
    rt.send({ type: 'input_audio_buffer.append', audio: mulawTone(300).toString('base64') });
    expect(await exchange({ type: 'input_audio_buffer.clear' }, 'input_audio_buffer.cleared')).toEqual({
      ok: true,
    });
    expect(await exchange({ type: 'input_audio_buffer.commit' }, '__never__')).toEqual({
      error: expect.objectContaining({ code: 'input_audio_buffer_commit_empty' }),
    });
  });

  it('every server event the stand-in sent conforms to the published schema', async () => {
    const { rt, exchange, events } = await officialClient();
    await exchange(
      session({
        audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } },
      }),
      'session.updated',
    );
    rt.send({ type: 'input_audio_buffer.append', audio: mulawTone(300).toString('base64') });
    await exchange({ type: 'input_audio_buffer.commit' }, 'input_audio_buffer.committed');
    await exchange({ type: 'response.create', response: { metadata: { request: 'r1' } } }, 'response.done');
    const problems = events.flatMap((e) => serverEventProblems(e as unknown as Record<string, unknown>));
    expect(events.length).toBeGreaterThan(10);
    expect([...new Set(problems)]).toEqual([]);
  });
});

describe("the official openai client on the stand-in's models API", () => {
  it('models.retrieve reads shutdown_date; an unknown model is a NotFoundError; a wrong key an AuthenticationError', async () => {
    fake = await startFakeRealtime({ apiKey: KEY });
    tls = await startTlsTerminator(Number(new URL(fake.url).port));
    const client = (key: string) =>
      new OpenAI({
        apiKey: key,
        baseURL: `https://127.0.0.1:${tls!.port}/v1`,
        maxRetries: 0,
        fetch: fetchTrustingLoopback,
      });
    const retiring = await client(KEY).models.retrieve('gpt-realtime');
    expect(retiring).toMatchObject({ id: 'gpt-realtime', object: 'model', shutdown_date: '2027-01-20' });
    const current = await client(KEY).models.retrieve('gpt-realtime-2.1');
    expect(current.shutdown_date).toBeNull();
    await expect(client(KEY).models.retrieve('gpt-nope')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client('sk-wrong').models.retrieve('gpt-realtime')).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
  });
});

describe('@openai/agents-realtime on the local stand-in', () => {
  it('runs a RealtimeSession with a tool call to its end: no crash, the tool ran, history complete', async () => {
    const { RealtimeAgent, RealtimeSession, OpenAIRealtimeWebSocket, tool } = await import(
      '@openai/agents-realtime'
    );
    const { z } = await import('zod');
    fake = await startFakeRealtime({
      apiKey: KEY,
      brain: (ctx) =>
        ctx.toolOutputs.length > 0
          ? { say: `It is ${JSON.parse(ctx.toolOutputs[0]!.output).weather} in Paris.` }
          : ctx.trigger === 'turn'
            ? { say: 'Let me look.', call: [{ name: 'get_weather', arguments: { city: 'Paris' } }] }
            : { say: 'Hello.' },
    });
    const ran: string[] = [];
    const getWeather = tool({
      name: 'get_weather',
      description: 'The weather in a city.',
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        ran.push(city);
        return JSON.stringify({ weather: 'sunny' });
      },
    });
    const agent = new RealtimeAgent({
      name: 'weather',
      instructions: 'Answer briefly.',
      tools: [getWeather],
    });
    const transport = new OpenAIRealtimeWebSocket({ url: `${fake.url}?model=gpt-realtime-2.1` });
    const session = new RealtimeSession(agent, {
      transport,
      model: 'gpt-realtime-2.1',
      config: {
        audio: { input: { format: 'g711_ulaw' }, output: { format: 'g711_ulaw' } },
      },
    });
    const audio: number[] = [];
    session.on('audio', (event) => audio.push(event.data.byteLength));
    await session.connect({ apiKey: KEY });
    const rt = await eventually(() => fake!.sessions.at(-1), 5_000);
    await eventually(() => rt.config !== undefined, 5_000);
    // the caller speaks one turn: a tone, then silence for the server VAD to end it
    const frames = Buffer.concat([mulawTone(600), Buffer.alloc(8 * 900, 0xff)]);
    for (let at = 0; at < frames.length; at += 160) {
      const chunk = frames.subarray(at, at + 160);
      session.sendAudio(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.length) as ArrayBuffer);
    }
    await eventually(
      () =>
        session.history.some(
          (item) =>
            item.type === 'message' && item.role === 'assistant' && JSON.stringify(item).includes('sunny'),
        ),
      10_000,
    );
    expect(ran).toEqual(['Paris']);
    expect(session.history.map((item) => (item.type === 'message' ? item.role : item.type))).toEqual([
      'user',
      'assistant',
      'function_call',
      'assistant',
    ]);
    expect(audio.reduce((a, b) => a + b, 0)).toBeGreaterThan(8_000);
    expect(rt.errors).toEqual([]);
    session.close();
  });
});
