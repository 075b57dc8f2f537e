import { MULAW_BYTES_PER_MS, mulawTone } from '../../audio/mulaw.js';
import { synthVoice } from '../../audio/synth-voice.js';
import type { Plan } from './brain.js';
import { id } from './ids.js';

/** An assistant audio item the stand-in is saying (how much was sent; a truncation's point). */
export interface AudioItem {
  id: string;
  sentMs: number;
  truncatedAt?: number;
}

/** What a response needs of its session. */
export interface ResponseHost {
  emit(event: Record<string, unknown>): void;
  /** Audio the caller has sent so far (ms), for the usage figures. */
  inputAudioMs(): number;
  /** How many responses the session has made (voices and tones vary with it). */
  responseCount(): number;
  /** A function call item exists now (the client may answer it). */
  functionCallAdded(callId: string, name: string, itemId: string): void;
  /** An assistant audio item exists now (the client may truncate or delete it). */
  audioItemAdded(item: AudioItem): void;
  /** Agent audio went out (the voice can no longer change). */
  spoke(): void;
  /** The response is done or cancelled: the session may start another. */
  ended(): void;
  readonly voice: 'tone' | 'synthetic';
  readonly msPerChar: number;
  readonly deltaMs: number;
  readonly deltaIntervalMs: number;
}

/** How a response is kept in `LocalRealtimeSession.responses` (tests read it). */
export interface ResponseRecord {
  id: string;
  status: string;
  say: string | undefined;
  calls: string[];
  instructions: string | undefined;
  metadata: unknown;
}

/**
 * One response of the stand-in, as the service sends it: `response.created` and the rate limits,
 * then either function calls at once, or an assistant audio item in deltas on a timer (with its
 * transcript as it is said) followed by the calls; then `response.done` with plausible usage. A
 * cancelled response still closes its audio, part and item, with what was generated so far.
 */
export class StandInResponse {
  readonly record: ResponseRecord;
  readonly #host: ResponseHost;
  readonly #plan: Plan;
  readonly #output: Record<string, unknown>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #audioSentMs = 0;
  /** The audio item being said, and how far. */
  #audio: { item: AudioItem; tone: Buffer; offset: number; transcriptSent: number } | undefined;

  constructor(host: ResponseHost, plan: Plan, record: Omit<ResponseRecord, 'id' | 'status' | 'say'>) {
    this.#host = host;
    this.#plan = plan;
    this.record = { id: id('resp'), status: 'in_progress', say: plan.say, ...record };
  }

  get id(): string {
    return this.record.id;
  }

  /** The timer of its audio, if it is speaking (the session stops it when it closes). */
  get timer(): NodeJS.Timeout | undefined {
    return this.#timer;
  }

  start(): void {
    this.#host.emit({
      type: 'response.created',
      response: {
        id: this.id,
        object: 'realtime.response',
        status: 'in_progress',
        output: [],
        metadata: this.record.metadata ?? null,
      },
    });
    // as the service does after each response.created (S8)
    this.#host.emit({
      type: 'rate_limits.updated',
      rate_limits: [
        { name: 'requests', limit: 5000, remaining: 4999, reset_seconds: 0.012 },
        { name: 'tokens', limit: 400000, remaining: 398000, reset_seconds: 0.3 },
      ],
    });
    if (!this.#plan.say) {
      this.#functionCalls();
      setImmediate(() => this.#finish('completed'));
      return;
    }
    this.#startAudio(this.#plan.say);
  }

  /** Stops it where it is (a barge-in, `response.cancel`); one of only function calls ends by itself. */
  cancel(reason: string): void {
    const audio = this.#audio;
    if (!audio) return;
    clearInterval(this.#timer);
    this.record.status = 'cancelled';
    const said = this.#plan.say ?? '';
    this.#endAudio(said.slice(0, Math.round((said.length * audio.offset) / Math.max(1, audio.tone.length))));
    this.#endItem();
    this.#finish('cancelled', reason);
  }

  #startAudio(say: string): void {
    const host = this.#host;
    const itemId = id('item');
    const item: AudioItem = { id: itemId, sentMs: 0 };
    host.audioItemAdded(item);
    const totalMs = this.#plan.audioMs ?? Math.max(400, say.length * host.msPerChar);
    const audioMs = Math.ceil(totalMs / 10) * 10;
    const tone =
      host.voice === 'synthetic'
        ? synthVoice(audioMs, host.responseCount())
        : mulawTone(audioMs, 300 + (host.responseCount() % 5) * 50);
    this.#audio = { item, tone, offset: 0, transcriptSent: 0 };
    const started = {
      id: itemId,
      object: 'realtime.item',
      type: 'message',
      role: 'assistant',
      status: 'in_progress',
      content: [],
    };
    host.emit({ type: 'response.output_item.added', response_id: this.id, output_index: 0, item: started });
    host.emit({ type: 'conversation.item.added', previous_item_id: null, item: started });
    host.emit({
      type: 'response.content_part.added',
      ...this.#part(),
      part: { type: 'audio', transcript: '' },
    });
    this.#timer = setInterval(() => this.#tick(), host.deltaIntervalMs);
  }

  /** One delta of audio (and the words said by then); after the last, the item ends and so does the response. */
  #tick(): void {
    const audio = this.#audio!;
    if (audio.offset >= audio.tone.length) {
      clearInterval(this.#timer);
      this.#endAudio(this.#plan.say ?? '');
      this.#endItem();
      this.#functionCalls();
      this.#finish('completed');
      return;
    }
    const chunk = audio.tone.subarray(audio.offset, audio.offset + this.#host.deltaMs * MULAW_BYTES_PER_MS);
    audio.offset += chunk.length;
    audio.item.sentMs = audio.offset / MULAW_BYTES_PER_MS;
    this.#audioSentMs = audio.item.sentMs;
    this.#host.spoke();
    this.#host.emit({
      type: 'response.output_audio.delta',
      ...this.#part(),
      delta: chunk.toString('base64'),
    });
    // the words as they are said, with the service's padding field (S8)
    const said = this.#plan.say ?? '';
    const upTo = Math.round((said.length * audio.offset) / audio.tone.length);
    if (upTo > audio.transcriptSent) {
      this.#host.emit({
        type: 'response.output_audio_transcript.delta',
        ...this.#part(),
        delta: said.slice(audio.transcriptSent, upTo),
        obfuscation: 'x'.repeat(1 + (upTo % 7)),
      });
      audio.transcriptSent = upTo;
    }
  }

  #part() {
    return { response_id: this.id, item_id: this.#audio!.item.id, output_index: 0, content_index: 0 };
  }

  /**
   * The audio's done events, also sent for a cancelled response (schema: transcript done is "also
   * emitted when a Response is interrupted, incomplete, or cancelled"), with what was generated so far.
   */
  #endAudio(transcript: string): void {
    const part = this.#part();
    this.#host.emit({ type: 'response.output_audio.done', ...part });
    this.#host.emit({ type: 'response.output_audio_transcript.done', ...part, transcript });
    this.#host.emit({ type: 'response.content_part.done', ...part, part: { type: 'audio', transcript } });
  }

  #endItem(): void {
    const item = {
      id: this.#audio!.item.id,
      object: 'realtime.item',
      type: 'message',
      role: 'assistant',
      status: this.record.status === 'cancelled' ? 'incomplete' : 'completed',
      content: [{ type: 'output_audio', transcript: this.#plan.say }],
    };
    this.#host.emit({ type: 'response.output_item.done', response_id: this.id, output_index: 0, item });
    this.#output.push(item);
  }

  #functionCalls(): void {
    if (!('call' in this.#plan)) return;
    for (const call of this.#plan.call) {
      const callId = id('call');
      const itemId = id('item');
      this.#host.functionCallAdded(callId, call.name, itemId);
      this.record.calls.push(callId);
      const args = JSON.stringify(call.arguments);
      const item = {
        id: itemId,
        type: 'function_call',
        status: 'completed',
        call_id: callId,
        name: call.name,
        arguments: args,
      };
      const at = { response_id: this.id, output_index: this.#output.length };
      this.#host.emit({
        type: 'response.output_item.added',
        ...at,
        item: { ...item, status: 'in_progress', arguments: '' },
      });
      this.#host.emit({
        type: 'response.function_call_arguments.done',
        ...at,
        item_id: itemId,
        call_id: callId,
        name: call.name,
        arguments: args,
      });
      this.#host.emit({ type: 'response.output_item.done', ...at, item });
      this.#output.push(item);
    }
  }

  #finish(status: 'completed' | 'cancelled', reason?: string): void {
    this.record.status = status;
    this.#host.ended();
    this.#host.emit({
      type: 'response.done',
      response: {
        id: this.id,
        object: 'realtime.response',
        status,
        status_details: status === 'cancelled' ? { type: 'cancelled', reason } : null,
        output: this.#output,
        metadata: this.record.metadata ?? null,
        usage: plausibleUsage({
          instructions: String(this.record.instructions ?? ''),
          inputAudioMs: this.#host.inputAudioMs(),
          said: this.#plan.say ?? JSON.stringify(this.#output),
          outputAudioMs: this.#audioSentMs,
        }),
      },
    });
  }
}

/**
 * A `response.usage` shaped like OpenAI's, with plausible counts: about 4 characters per text
 * token; caller audio 1 token per 100 ms, agent audio 1 per 50 ms (OpenAI's published rates).
 */
function plausibleUsage(o: {
  instructions: string;
  inputAudioMs: number;
  said: string;
  outputAudioMs: number;
}) {
  const inputText = Math.ceil(o.instructions.length / 4);
  const inputAudio = Math.round(o.inputAudioMs / 100);
  const outputText = Math.ceil(o.said.length / 4);
  const outputAudio = Math.round(o.outputAudioMs / 50);
  return {
    total_tokens: inputText + inputAudio + outputText + outputAudio,
    input_tokens: inputText + inputAudio,
    output_tokens: outputText + outputAudio,
    input_token_details: {
      text_tokens: inputText,
      audio_tokens: inputAudio,
      image_tokens: 0,
      cached_tokens: 0,
      cached_tokens_details: { text_tokens: 0, audio_tokens: 0, image_tokens: 0 },
    },
    output_token_details: { text_tokens: outputText, audio_tokens: outputAudio },
  };
}
