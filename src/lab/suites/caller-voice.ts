import WebSocket from 'ws';
import { realtimeUrl } from '../../model/openai/connection.js';

/** How long one spoken line of the simulated caller may take to generate. */
const LINE_TIMEOUT_MS = 30_000;

/**
 * A simulated caller with a voice: a second Realtime session (the same GA API the agent uses) that
 * speaks for the caller, μ-law both ways, so what it says goes over the real Twilio path like a
 * recording. `say` speaks given words; `reply` listens to what the agent said and answers in
 * character (a persona). Turn detection is off: we tell it when the agent has finished.
 */
export class CallerVoice {
  readonly #ws: WebSocket;
  #next = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
  }

  static async open(o: {
    url: string;
    model: string;
    apiKey: string;
    instructions: string;
  }): Promise<CallerVoice> {
    const ws = new WebSocket(realtimeUrl(o.url, o.model), {
      headers: { Authorization: `Bearer ${o.apiKey}` },
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (error) =>
        reject(new Error(`the simulated caller could not reach the Realtime API: ${error.message}`)),
      );
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`the simulated caller's Realtime session was refused (HTTP ${res.statusCode})`)),
      );
    });
    const voice = new CallerVoice(ws);
    await voice.#exchange(
      [
        {
          type: 'session.update',
          session: {
            type: 'realtime',
            instructions: o.instructions,
            output_modalities: ['audio'],
            audio: {
              input: { format: { type: 'audio/pcmu' }, turn_detection: null },
              output: { format: { type: 'audio/pcmu' }, voice: 'alloy' },
            },
          },
        },
      ],
      'session.updated',
    );
    return voice;
  }

  /** Speaks these exact words; resolves with the audio (μ-law 8 kHz). */
  async say(text: string): Promise<Buffer> {
    return (await this.#speak([], `Say exactly this, as the caller, and nothing else: "${text}"`)).audio;
  }

  /** Hears what the agent said and answers in character; `transcript` is what the caller said. */
  reply(agentSaid: Buffer): Promise<{ audio: Buffer; transcript: string }> {
    const appends: Record<string, unknown>[] = [];
    // the session's buffer takes at most 15 MiB per event; 1 s chunks are far below
    for (let at = 0; at < agentSaid.length; at += 8_000)
      appends.push({
        type: 'input_audio_buffer.append',
        audio: agentSaid.subarray(at, at + 8_000).toString('base64'),
      });
    if (appends.length) appends.push({ type: 'input_audio_buffer.commit' });
    return this.#speak(appends, undefined);
  }

  close(): void {
    this.#ws.close();
  }

  async #speak(before: Record<string, unknown>[], instructions: string | undefined) {
    const id = `caller_${this.#next++}`;
    const audio: Buffer[] = [];
    let transcript = '';
    await this.#exchange(
      [...before, { type: 'response.create', event_id: id, response: instructions ? { instructions } : {} }],
      'response.done',
      (event) => {
        if (event.type === 'response.output_audio.delta' && typeof event.delta === 'string')
          audio.push(Buffer.from(event.delta, 'base64'));
        if (event.type === 'response.output_audio_transcript.done' && typeof event.transcript === 'string')
          transcript = event.transcript;
      },
    );
    return { audio: Buffer.concat(audio), transcript };
  }

  /** Sends events, then waits for an event of type `until`; an error event fails it. */
  #exchange(
    events: Record<string, unknown>[],
    until: string,
    onEvent?: (event: Record<string, unknown>) => void,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`the simulated caller got no ${until} in time`)),
        LINE_TIMEOUT_MS,
      );
      const listener = (data: WebSocket.RawData) => {
        let event: Record<string, unknown>;
        try {
          event = JSON.parse(data.toString()) as Record<string, unknown>;
        } catch {
          return;
        }
        if (event.type === 'error') {
          const error = (event.error ?? {}) as { message?: string };
          return finish(
            new Error(`the simulated caller's session failed: ${error.message ?? 'unknown error'}`),
          );
        }
        onEvent?.(event);
        if (event.type === until) finish();
      };
      const closed = () => finish(new Error("the simulated caller's Realtime session closed"));
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.#ws.off('message', listener);
        this.#ws.off('close', closed);
        if (error) reject(error);
        else resolve();
      };
      this.#ws.on('message', listener);
      this.#ws.once('close', closed);
      for (const event of events) this.#ws.send(JSON.stringify(event));
    });
  }
}

/** The instructions of a caller with a goal, for `persona:` scenarios. */
export function personaInstructions(goal: string): string {
  return `You are a person calling a business on the phone. Your goal: ${goal}
Speak like a real caller: short sentences, one thing at a time, answer the questions you are asked.
Stay in character; never say you are an AI. When your goal is reached, or it cannot be reached, say a short goodbye.`;
}
