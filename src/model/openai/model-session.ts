import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import { base64ByteLength } from '../../audio/base64.js';
import { MULAW_BYTES_PER_MS } from '../../audio/mulaw.js';
import type {
  ModelErrorCode,
  ModelEvent,
  ModelSession,
  ModelToolCall,
  SilencePadding,
  UnheardItem,
} from '../../bridge/ports.js';
import type { ToolDefinition } from '../../bridge/tool-ports.js';
import type { RealtimeClosed, RealtimeConnection } from './connection.js';
import { ConversationHistory } from './conversation-history.js';
import type { FunctionCallItem, ServerEvent } from './events.js';
import { forgetUnheardEvents } from './forget-unheard.js';
import { ResponseSequencer } from './response-sequencer.js';
import { buildToolsUpdate, SESSION_CONFIG_EVENT_ID } from './session-config.js';

/** Waits before each reconnect attempt: at once, then twice more with backoff. */
export const RECONNECT_DELAYS_MS = [0, 400, 1_200];

/**
 * Failures a new socket can cure — including the 60-minute session limit, since a new session starts
 * its own clock. Auth, quota and a rejected configuration cannot be cured this way.
 */
const RECONNECTABLE = new Set<ModelErrorCode>(['closed', 'stalled', 'unreachable', 'session_limit']);

/**
 * OpenAI ends a session at its `expires_at` (announced in `session.created`; 60 minutes today, close
 * 1001). This long before it, the session is replaced at the first quiet moment — no response running
 * or requested, caller not speaking — so a long call never has a sentence cut by the limit.
 */
export const ROLLOVER_LEAD_MS = 5 * 60_000;
/** When the service announces no `expires_at`: replace the session from this age on. */
export const ROLLOVER_AFTER_MS = 55 * 60_000;

/** Said to the model after a reconnect that cut a response or a caller turn short. */
export const RESUME_ADDENDUM =
  'The phone line dropped for a moment and you may have been cut off. If you were in the middle of saying something, finish it briefly from where you were cut off, without starting over. If the caller was speaking, ask them to repeat what they last said.';

export interface OpenAiModelSessionOptions {
  instructions: string;
  /** Opens a new, configured connection for this call; without it a lost socket ends the session. */
  reconnect?: () => RealtimeConnection;
  reconnectDelaysMs?: readonly number[];
  /** Session age after which it is rolled over at a quiet moment, when `expires_at` is not known. */
  rolloverAfterMs?: number;
  /** How long before the service's `expires_at` the session is rolled over (default 5 min). */
  rolloverLeadMs?: number;
  /**
   * server_vad's `prefix_padding_ms`: `audio_start_ms` of speech_started includes it, so speech
   * really began this much later in the audio.
   */
  prefixPaddingMs?: number;
  /**
   * The service refused the transcription settings: the configuration without them, for this
   * session and every later one of the call (transcription is a side feature; the call goes on).
   */
  withoutTranscription?: () => RealtimeClientEvent;
  /** The agent's tools as they are now: sent again when they change mid-call. */
  tools?: () => readonly ToolDefinition[];
  /**
   * `turn_detection.create_response` (default true): the service answers a committed turn by itself,
   * unless a response is running then; false: each answer is asked for (`response.create`).
   */
  createResponse?: boolean;
  /** Subscribes to tool list changes; the returned function unsubscribes (at the session's end). */
  onToolsChange?: (listener: () => void) => () => void;
}

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
 * - unheard audio is truncated or deleted;
 * - a socket lost mid-call (closed, dropped, stalled) is replaced: the new session gets the same
 *   configuration and the conversation so far (text and function items: audio cannot be replayed),
 *   a response that was cut short is resumed rather than restarted, and the call core sees one
 *   `resumed` event. Only when every attempt fails is the session `closed`;
 * - before the 60-minute limit the session is rolled over the same way, at a quiet moment.
 */
export class OpenAiModelSession implements ModelSession {
  #conn: RealtimeConnection;
  readonly #o: OpenAiModelSessionOptions;
  readonly #responses: ResponseSequencer;
  readonly #history = new ConversationHistory();
  #listener: ((event: ModelEvent) => void) | undefined;
  #early: ModelEvent[] = [];
  /** The current socket's session confirmed our configuration. */
  #configured = false;
  #ended = false;
  #callerSpeaking = false;
  /** A caller turn ended and its answer has not started yet (not a moment to roll over). */
  #turnAwaitingAnswer = false;
  /** A reconnect under way: its attempt, when the old socket was lost, whether a turn was cut short. */
  #resuming: { attempt: number; since: number; cutShort: boolean; rollover: boolean } | undefined;
  #rolloverTimer: NodeJS.Timeout | undefined;
  #rolloverDue = false;
  readonly #stopToolUpdates: (() => void) | undefined;
  /** The service refused the transcription settings: later sessions are configured without them. */
  #transcriptionOff = false;
  /** The current session's `expires_at` (unix seconds), once the service said it. */
  #expiresAt: number | undefined;
  /** An idle timeout fired: the commit of its item (or the next one) is not a caller turn. */
  #idleCommit: string | true | undefined;
  /** Caller audio sent to the current session (its input audio clock: `audio_start_ms`). */
  #appendedBytes = 0;

  constructor(connection: RealtimeConnection, options: OpenAiModelSessionOptions) {
    this.#conn = connection;
    this.#o = options;
    this.#responses = new ResponseSequencer((event) => this.#conn.send(event));
    this.#attach(connection);
    this.#scheduleRollover();
    this.#stopToolUpdates = options.onToolsChange?.(() => this.toolsChanged());
  }

  /**
   * A tool server came back (or changed its list) during the call: the session gets the new list
   * (a partial `session.update`). Before its configuration, or while a new socket is being opened,
   * there is nothing to do: the configuration is built from the list as it is when sent.
   */
  toolsChanged(): void {
    if (this.#ended || !this.#configured || this.#resuming || !this.#o.tools) return;
    this.#conn.send(buildToolsUpdate(this.#o.tools()));
  }

  get openedAt(): number {
    return this.#conn.openedAt;
  }

  get responding(): boolean {
    return this.#responses.running;
  }

  /**
   * Realtime's turn detection runs on the audio it receives: a line that went quiet for 750 ms while
   * the caller spoke gets 1 s of silence, so server VAD sees the turn end.
   */
  readonly speechEndPadding: SilencePadding = { quietMs: 750, padMs: 1_000 };

  get closed(): boolean {
    return this.#ended;
  }

  appendAudio(base64: string): void {
    this.#appendedBytes += base64ByteLength(base64);
    this.#conn.appendAudio(base64);
  }

  addCallerText(text: string): void {
    this.#history.callerSaid(text);
    this.#conn.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
    });
  }

  respond(addendum?: string): string {
    return this.#responses.request(
      addendum === undefined ? undefined : { instructions: `${this.#o.instructions}\n\n${addendum}` },
    );
  }

  sendToolResult(callId: string, output: string): void {
    this.#history.toolOutput(callId, output);
    this.#conn.send({
      type: 'conversation.item.create',
      item: { type: 'function_call_output', call_id: callId, output },
    });
  }

  forgetUnheard(items: readonly UnheardItem[]): void {
    this.#history.forget(items);
    for (const event of forgetUnheardEvents(items)) this.#conn.send(event);
  }

  subscribe(listener: (event: ModelEvent) => void): void {
    this.#listener = listener;
    const early = this.#early;
    this.#early = [];
    for (const event of early) listener(event);
  }

  close(): void {
    this.#ended = true;
    clearTimeout(this.#rolloverTimer);
    this.#stopToolUpdates?.();
    this.#conn.close();
  }

  #emit(event: ModelEvent): void {
    if (this.#listener) this.#listener(event);
    else this.#early.push(event);
  }

  #attach(connection: RealtimeConnection): void {
    // a replaced socket's late events are ignored: only the current one speaks for the call
    connection.attach({
      onEvent: (event) => {
        if (connection === this.#conn) this.#onEvent(event);
      },
      onClose: (closed) => {
        if (connection === this.#conn) this.#onClose(closed);
      },
    });
  }

  /** The session cannot go on: report it once, then close the socket. */
  #end(code: ModelErrorCode, message: string): void {
    if (this.#ended) return;
    this.#report({ code, message, expected: false });
    this.#conn.close();
  }

  /** The session is over for good: say so once. */
  #report(closed: { code: ModelErrorCode; message: string; expected: boolean }): void {
    this.#ended = true;
    clearTimeout(this.#rolloverTimer);
    this.#stopToolUpdates?.();
    this.#emit({ type: 'closed', ...closed });
  }

  #onClose(closed: RealtimeClosed): void {
    if (this.#ended) return;
    const canRetry = !closed.expected && this.#o.reconnect !== undefined;
    // a failed attempt is retried whatever the reason; a first loss only when a new socket can help
    if (canRetry && (this.#resuming || (this.#configured && RECONNECTABLE.has(closed.code)))) {
      this.#reconnect(closed.message);
      return;
    }
    this.#report({ code: closed.code, message: closed.message, expected: closed.expected });
  }

  /**
   * The replacement is due `rolloverLeadMs` before the service's `expires_at` (once `session.created`
   * said it), else at a fixed age; whichever comes first.
   */
  #scheduleRollover(expiresAt = this.#expiresAt): void {
    if (!this.#o.reconnect) return;
    clearTimeout(this.#rolloverTimer);
    const age = performance.now() - this.#conn.openedAt;
    let dueInMs = (this.#o.rolloverAfterMs ?? ROLLOVER_AFTER_MS) - age;
    if (expiresAt !== undefined)
      dueInMs = Math.min(
        dueInMs,
        expiresAt * 1000 - Date.now() - (this.#o.rolloverLeadMs ?? ROLLOVER_LEAD_MS),
      );
    this.#rolloverTimer = setTimeout(
      () => {
        this.#rolloverDue = true;
        this.#maybeRollover();
      },
      Math.max(0, dueInMs),
    );
    this.#rolloverTimer.unref();
  }

  /** A planned replacement, at a quiet moment only: nothing is cut short, so nothing is resumed. */
  #maybeRollover(): void {
    const quiet =
      !this.#responses.running &&
      !this.#responses.pending &&
      !this.#callerSpeaking &&
      !this.#turnAwaitingAnswer;
    if (!this.#rolloverDue || !quiet || this.#resuming || this.#ended) return;
    this.#rolloverDue = false;
    const old = this.#conn;
    this.#resuming = { attempt: 1, since: performance.now(), cutShort: false, rollover: true };
    this.#responses.reset();
    this.#open();
    old.close();
  }

  /** Opens the replacement session: same configuration, then the conversation so far. */
  #open(): void {
    if (this.#ended) return;
    this.#configured = false;
    this.#appendedBytes = 0;
    this.#expiresAt = undefined;
    this.#conn = this.#o.reconnect!();
    this.#attach(this.#conn);
    // queued behind the connection's own session.update, in order
    for (const item of this.#history.replay()) this.#conn.send(item);
  }

  /** Replaces the lost socket (the first attempt at once), or gives up after the last attempt. */
  #reconnect(reason: string): void {
    const delays = this.#o.reconnectDelaysMs ?? RECONNECT_DELAYS_MS;
    const previous = this.#resuming;
    const attempt = (previous?.attempt ?? 0) + 1;
    if (attempt > delays.length) {
      this.#end(
        'closed',
        `lost the OpenAI session and could not reconnect (${delays.length} attempts): ${reason}`,
      );
      return;
    }
    // the first loss: whatever ran there is gone; what was requested is asked again later
    const cutShort = previous
      ? previous.cutShort
      : this.#responses.reset() || this.#callerSpeaking || this.#turnAwaitingAnswer;
    this.#resuming = {
      attempt,
      since: previous?.since ?? performance.now(),
      cutShort,
      rollover: false,
    };
    this.#callerSpeaking = false;
    this.#turnAwaitingAnswer = false;
    this.#emit({
      type: 'warning',
      message: `lost the OpenAI session (${reason}); reconnecting (attempt ${attempt})`,
    });
    const delay = delays[attempt - 1] ?? 0;
    if (delay === 0) this.#open();
    else setTimeout(() => this.#open(), delay).unref();
  }

  /** The new session confirmed its configuration: the call goes on where it was. */
  #resumed(): void {
    const resuming = this.#resuming!;
    this.#resuming = undefined;
    this.#emit({
      type: 'resumed',
      reason: resuming.rollover ? 'rollover' : 'lost',
      attempt: resuming.attempt,
      gapMs: Math.round(performance.now() - resuming.since),
    });
    this.#scheduleRollover();
    this.#responses.resume();
    if (resuming.cutShort && !this.#responses.pending) this.respond(RESUME_ADDENDUM);
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
      case 'session.created':
        // the service says when this session ends: roll over before that, not at a guessed age
        this.#expiresAt = event.expiresAt;
        if (event.expiresAt !== undefined) this.#scheduleRollover();
        return;
      case 'session.updated':
        this.#onSessionUpdated(event);
        return;
      case 'input_audio_buffer.speech_started':
        this.#callerSpeaking = true;
        this.#emit({ type: 'speech_started', lagMs: this.#speechLag(event.audioStartMs) });
        return;
      case 'input_audio_buffer.speech_stopped':
        this.#callerSpeaking = false;
        // not a quiet moment: the answer to this turn is about to start
        this.#turnAwaitingAnswer = true;
        this.#emit({ type: 'speech_stopped' });
        return;
      case 'input_audio_buffer.timeout_triggered':
        // idle_timeout_ms: the service commits empty audio and prompts the model itself
        this.#idleCommit = event.itemId ?? true;
        return;
      case 'input_audio_buffer.committed':
        // that empty commit is not a caller turn: it must not open a confirmation gate (no "yes")
        if (this.#idleCommit !== undefined) {
          const idle = this.#idleCommit === true || this.#idleCommit === event.itemId;
          this.#idleCommit = undefined;
          if (idle) return;
        }
        this.#emit({
          type: 'turn_committed',
          answered: (this.#o.createResponse ?? true) && !this.responding,
        });
        return;
      case 'response.created':
        this.#turnAwaitingAnswer = false;
        this.#responses.created(event.requestId);
        this.#emit({ type: 'response_started', responseId: event.responseId });
        return;
      case 'response.output_audio.done':
        this.#emit({ type: 'audio_done', responseId: event.responseId, itemId: event.itemId });
        return;
      case 'response.output_item.done': {
        const call =
          event.item.type === 'function_call' && 'callId' in event.item ? completed(event.item) : undefined;
        if (!call) return;
        this.#history.toolCall(call);
        this.#emit({ type: 'tool_call', responseId: event.responseId, call });
        return;
      }
      case 'response.done':
        this.#emit({
          type: 'response_done',
          responseId: event.responseId,
          requestId: this.#responses.done(),
          toolCalls: event.functionCalls.map(completed).filter((c): c is ModelToolCall => c !== undefined),
          ...(event.status === 'failed' ? { failure: event.statusError ?? 'no reason given' } : {}),
          ...(event.usage ? { usage: event.usage } : {}),
        });
        this.#maybeRollover();
        return;
      case 'response.output_audio_transcript.done':
        this.#history.agentSaid(event.itemId, event.transcript);
        this.#emit({ type: 'transcript', role: 'agent', itemId: event.itemId, text: event.transcript });
        return;
      case 'conversation.item.input_audio_transcription.completed':
        this.#history.callerSaid(event.transcript);
        this.#emit({ type: 'transcript', role: 'caller', itemId: event.itemId, text: event.transcript });
        return;
      case 'error':
        this.#onError(event);
        return;
      default:
        return;
    }
  }

  /** How far behind the audio we sent the model noticed speech (ms), if the numbers make sense. */
  #speechLag(audioStartMs: number): number | undefined {
    const sentMs = this.#appendedBytes / MULAW_BYTES_PER_MS;
    const lag = sentMs - (audioStartMs + (this.#o.prefixPaddingMs ?? 0));
    return lag >= 0 && lag < 10_000 ? Math.round(lag) : undefined;
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
    if (this.#resuming) this.#resumed();
    else this.#emit({ type: 'ready' });
  }

  /** A refusal of the configuration that names its transcription (once: a second one is fatal). */
  #transcriptionRefused(event: Extract<ServerEvent, { type: 'error' }>): boolean {
    if (this.#transcriptionOff || !this.#o.withoutTranscription) return false;
    return /(^|\.)transcription(\.|$)/.test(event.param ?? '') || /transcription/i.test(event.message);
  }

  #onError(event: Extract<ServerEvent, { type: 'error' }>): void {
    const what = `${event.message} (${event.code ?? 'no code'})`;
    if (this.#resuming && !this.#configured) {
      // the configuration was accepted before: this attempt failed, try another socket
      const failed = this.#conn;
      this.#reconnect(what);
      failed.close();
      return;
    }
    if (!this.#configured && this.#transcriptionRefused(event)) {
      this.#transcriptionOff = true;
      this.#emit({
        type: 'warning',
        message: `OpenAI refused the transcription settings (${what}): this call goes on without transcription of the caller`,
      });
      this.#conn.send(this.#o.withoutTranscription!());
      return;
    }
    if (event.eventId === SESSION_CONFIG_EVENT_ID || !this.#configured) {
      // the service keeps its defaults (PCM 24 kHz, no tools): static on a μ-law line. Never run on them.
      this.#end('config_rejected', `OpenAI rejected the session configuration: ${what}`);
      return;
    }
    const busy = event.code === 'conversation_already_has_active_response';
    if (this.#responses.rejected(event.eventId, busy)) {
      if (!busy) this.#emit({ type: 'warning', message: `OpenAI refused a response: ${what}` });
      return;
    }
    // the response finished while a cancel was on the wire: harmless, per the API docs
    if (event.code === 'response_cancel_not_active') return;
    // most errors are recoverable (a replayed item the new session refused costs context, not the
    // call); fatal ones also close the socket (reported by onClose)
    this.#emit({ type: 'warning', message: `OpenAI reported an error: ${what}` });
  }
}
