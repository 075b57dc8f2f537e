import type {
  ModelErrorCode,
  ModelEvent,
  ModelSession,
  ModelToolCall,
  UnheardItem,
} from '../../bridge/ports.js';
import type { RealtimeClosed, RealtimeConnection } from './connection.js';
import type { FunctionCallItem, ServerEvent } from './events.js';
import { forgetUnheardEvents } from './forget-unheard.js';
import { ResponseSequencer } from './response-sequencer.js';
import { SESSION_CONFIG_EVENT_ID } from './session-config.js';

/** Only complete calls run: a cancelled response also reports its (incomplete) items. */
function completed(item: FunctionCallItem): ModelToolCall | undefined {
  if (item.status !== 'completed' || !item.callId) return undefined;
  return { callId: item.callId, name: item.name, arguments: item.arguments };
}

/**
 * The OpenAI Realtime (GA) adapter of {@link ModelSession}: the call core's intentions in, the
 * Realtime wire events out and back. OpenAI's rules live here:
 * - the configuring `session.update` must be confirmed (`session.updated`, μ-law both ways); an
 *   error naming it, or any error before that confirmation, ends the session (`config_rejected`);
 * - one response at a time, settled by event id ({@link ResponseSequencer});
 * - per-response `instructions` replace the session's, so an addendum is sent with them;
 * - unheard audio is truncated or deleted.
 */
export class OpenAiModelSession implements ModelSession {
  readonly #conn: RealtimeConnection;
  readonly #instructions: string;
  readonly #responses: ResponseSequencer;
  #listener: ((event: ModelEvent) => void) | undefined;
  #early: ModelEvent[] = [];
  #configured = false;
  #ended = false;

  constructor(connection: RealtimeConnection, options: { instructions: string }) {
    this.#conn = connection;
    this.#instructions = options.instructions;
    this.#responses = new ResponseSequencer((event) => connection.send(event));
    connection.attach({
      onEvent: (event) => this.#onEvent(event),
      onClose: (closed) => this.#onClose(closed),
    });
  }

  get openedAt(): number {
    return this.#conn.openedAt;
  }

  get responding(): boolean {
    return this.#responses.running;
  }

  appendAudio(base64: string): void {
    this.#conn.appendAudio(base64);
  }

  addCallerText(text: string): void {
    this.#conn.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
    });
  }

  respond(addendum?: string): string {
    return this.#responses.request(
      addendum === undefined ? undefined : { instructions: `${this.#instructions}\n\n${addendum}` },
    );
  }

  sendToolResult(callId: string, output: string): void {
    this.#conn.send({
      type: 'conversation.item.create',
      item: { type: 'function_call_output', call_id: callId, output },
    });
  }

  forgetUnheard(items: readonly UnheardItem[]): void {
    for (const event of forgetUnheardEvents(items)) this.#conn.send(event);
  }

  subscribe(listener: (event: ModelEvent) => void): void {
    this.#listener = listener;
    const early = this.#early;
    this.#early = [];
    for (const event of early) listener(event);
  }

  close(): void {
    this.#conn.close();
  }

  #emit(event: ModelEvent): void {
    if (this.#listener) this.#listener(event);
    else this.#early.push(event);
  }

  /** The session cannot go on: report it once, then close the socket. */
  #end(code: ModelErrorCode, message: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#emit({ type: 'closed', code, message, expected: false });
    this.#conn.close();
  }

  #onClose(closed: RealtimeClosed): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#emit({ type: 'closed', code: closed.code, message: closed.message, expected: closed.expected });
  }

  #onEvent(event: ServerEvent): void {
    if (this.#ended) return;
    switch (event.type) {
      case 'response.output_audio.delta':
        this.#emit({
          type: 'audio',
          responseId: event.responseId,
          itemId: event.itemId,
          contentIndex: event.contentIndex,
          chunk: event.delta,
        });
        return;
      case 'session.updated':
        this.#onSessionUpdated(event);
        return;
      case 'input_audio_buffer.speech_started':
        this.#emit({ type: 'speech_started' });
        return;
      case 'input_audio_buffer.speech_stopped':
        this.#emit({ type: 'speech_stopped' });
        return;
      case 'input_audio_buffer.committed':
        this.#emit({ type: 'turn_committed' });
        return;
      case 'response.created':
        this.#responses.created(event.requestId);
        this.#emit({ type: 'response_started', responseId: event.responseId });
        return;
      case 'response.output_audio.done':
        this.#emit({ type: 'audio_done', responseId: event.responseId, itemId: event.itemId });
        return;
      case 'response.output_item.done': {
        const call =
          event.item.type === 'function_call' && 'callId' in event.item ? completed(event.item) : undefined;
        if (call) this.#emit({ type: 'tool_call', responseId: event.responseId, call });
        return;
      }
      case 'response.done':
        this.#emit({
          type: 'response_done',
          responseId: event.responseId,
          requestId: this.#responses.done(),
          toolCalls: event.functionCalls.map(completed).filter((c): c is ModelToolCall => c !== undefined),
          ...(event.status === 'failed' ? { failure: event.statusError ?? 'no reason given' } : {}),
        });
        return;
      case 'response.output_audio_transcript.done':
        this.#emit({ type: 'transcript', role: 'agent', itemId: event.itemId, text: event.transcript });
        return;
      case 'conversation.item.input_audio_transcription.completed':
        this.#emit({ type: 'transcript', role: 'caller', itemId: event.itemId, text: event.transcript });
        return;
      case 'error':
        this.#onError(event);
        return;
      default:
        return;
    }
  }

  /** The first `session.updated` confirms our configuration: only then may the agent speak. */
  #onSessionUpdated(event: Extract<ServerEvent, { type: 'session.updated' }>): void {
    if (this.#configured) return;
    for (const [side, format] of [
      ['input', event.inputFormat],
      ['output', event.outputFormat],
    ] as const) {
      if (format !== undefined && format !== 'audio/pcmu') {
        this.#end(
          'config_rejected',
          `OpenAI configured ${side} audio as ${format}, not audio/pcmu: the caller would hear static`,
        );
        return;
      }
    }
    this.#configured = true;
    this.#emit({ type: 'ready' });
  }

  #onError(event: Extract<ServerEvent, { type: 'error' }>): void {
    if (event.eventId === SESSION_CONFIG_EVENT_ID || !this.#configured) {
      // the service keeps its defaults (PCM 24 kHz, no tools): static on a μ-law line. Never run on them.
      this.#end(
        'config_rejected',
        `OpenAI rejected the session configuration: ${event.message} (${event.code ?? 'no code'})`,
      );
      return;
    }
    const busy = event.code === 'conversation_already_has_active_response';
    if (this.#responses.rejected(event.eventId, busy)) {
      if (!busy)
        this.#emit({
          type: 'warning',
          message: `OpenAI refused a response: ${event.message} (${event.code})`,
        });
      return;
    }
    // the response finished while a cancel was on the wire: harmless, per the API docs
    if (event.code === 'response_cancel_not_active') return;
    // most Realtime errors are recoverable; fatal ones also close the socket (reported by onClose)
    this.#emit({
      type: 'warning',
      message: `OpenAI reported an error: ${event.message} (${event.code ?? 'no code'})`,
    });
  }
}
