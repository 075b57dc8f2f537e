import type { ClientEvent, ServerEvent, SessionStartEvent } from 'openai-live/resources/live/live';
import WebSocket from 'ws';
import { SpeechDetector, type SpeechDetectorOptions } from '../../audio/speech-detector.js';
import type {
  ModelErrorCode,
  ModelEvent,
  ModelSession,
  ModelToolCall,
  UnheardItem,
} from '../../bridge/ports.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';

/** Agent audio stops for this long: that stretch of speech is over (Live has no response events). */
export const SPEECH_GAP_MS = 500;
/** How long `session.start` may take to be confirmed. */
const START_TIMEOUT_MS = 10_000;
/** After `session.close`, how long we wait for `session.closed` (the service drains for up to 10 s). */
const CLOSE_WAIT_MS = 10_000;

export interface LiveSessionOptions {
  url: string;
  apiKey: string;
  logger: Logger;
  /** The first message (built by {@link buildSessionStart}). */
  start: SessionStartEvent;
  speech: SpeechDetectorOptions;
  /** Monotonic ms (tests). */
  now?: () => number;
}

/**
 * The call core's {@link ModelSession} on GPT-Live. Live is full duplex and has no response
 * lifecycle, no speech events and no truncation, so this adapter makes what the core needs out of
 * what Live gives:
 * - a *response* is a stretch of agent audio (it ends after {@link SPEECH_GAP_MS} without audio);
 *   the oldest open `respond()` request is credited with the next stretch (greeting, goodbye);
 * - caller speech comes from an energy detector on the caller's frames ({@link SpeechDetector});
 * - tool calls come from Responses delegation (`response.event` → `response.output_item.done`),
 *   a batch ending with the nested response; outputs go back as `response.item.create`, and the
 *   core's next `respond()` becomes `response.create`;
 * - barge-in cannot truncate: the core stops Twilio's queue, the rest of that stretch is dropped,
 *   and the model is told the caller did not hear it;
 * - transcripts arrive as fragments and are grouped into lines.
 */
export class LiveModelSession implements ModelSession {
  readonly openedAt: number;
  #closed = false;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #ws: WebSocket;
  readonly #speech: SpeechDetector;
  #listener: ((event: ModelEvent) => void) | undefined;
  readonly #early: ModelEvent[] = [];
  #started = false;
  #closing = false;
  #closedWaiter: (() => void) | undefined;
  #startTimer: NodeJS.Timeout | undefined;
  #nextId = 0;
  /** `respond()` requests not yet credited with a stretch of speech. */
  readonly #requests: string[] = [];
  /** Calls whose output has not been sent yet. */
  readonly #unanswered = new Set<string>();
  /** A batch of calls ended: the backend waits for `response.create` once every output is in. */
  #awaitingContinue = false;
  /** `response.create` went out and the core has not asked for its answer yet. */
  #continued = false;
  #stretch: { id: string; requestId: string | undefined; timer: NodeJS.Timeout } | undefined;
  /** Tool calls by delegated response, until that response completes. */
  readonly #batches = new Map<string, ModelToolCall[]>();
  /** The nested response each delegation is running. */
  readonly #running = new Map<string, string>();
  #callerText = '';
  #agentText = '';
  #lastStretchId = '';

  constructor(options: LiveSessionOptions) {
    this.#log = options.logger;
    this.#now = options.now ?? (() => performance.now());
    this.openedAt = this.#now();
    this.#speech = new SpeechDetector(options.speech);
    this.#ws = new WebSocket(options.url, {
      headers: { authorization: `Bearer ${options.apiKey}` },
      perMessageDeflate: false,
      handshakeTimeout: START_TIMEOUT_MS,
    });
    this.#ws.on('open', () => {
      (this.#ws as unknown as { _socket?: { setNoDelay?(v: boolean): void } })._socket?.setNoDelay?.(true);
      this.#send(options.start);
    });
    this.#ws.on('message', (data) => this.#onMessage(data.toString()));
    this.#ws.on('unexpected-response', (_req, res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      this.#fail(
        status === 401 || status === 403 ? 'auth' : status === 429 ? 'rate_limited' : 'unreachable',
        `GPT-Live refused the connection (HTTP ${status})`,
      );
    });
    this.#ws.on('error', (error) =>
      this.#fail('unreachable', `cannot reach GPT-Live: ${errorMessage(error)}`),
    );
    this.#ws.on('close', () => {
      this.#closedWaiter?.();
      if (!this.#closed) this.#fail('closed', 'the GPT-Live socket closed');
    });
    this.#startTimer = setTimeout(
      () =>
        this.#fail('unreachable', `GPT-Live did not confirm the session within ${START_TIMEOUT_MS / 1000} s`),
      START_TIMEOUT_MS,
    );
    this.#startTimer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A stretch of agent speech is under way (what the caller may be hearing). */
  get responding(): boolean {
    return this.#stretch !== undefined;
  }

  appendAudio(base64: string): void {
    if (!this.#started || this.#closed) return;
    // base64 needs no escaping: the frame is wrapped, not re-serialised (hot path)
    this.#ws.send(`{"type":"session.input_audio.append","audio":"${base64}"}`);
    const change = this.#speech.frame(base64);
    if (change === 'started') this.#emit({ type: 'speech_started' });
    else if (change === 'stopped') {
      this.#emit({ type: 'speech_stopped' });
      this.#emit({ type: 'turn_committed' });
    }
  }

  addCallerText(text: string): void {
    // Live has no keypad events on a WebSocket session: the digit is context for the model
    this.#send({ type: 'session.thinking.append', content: text, delegation_id: null });
  }

  respond(addendum?: string): string {
    const id = `live_req_${++this.#nextId}`;
    this.#requests.push(id);
    if (this.#continued && addendum === undefined) {
      // the core's "answer now" after tool outputs: the backend was already told to go on
      this.#continued = false;
    } else {
      this.#continued = false;
      this.#send({
        type: 'session.instructions.append',
        content: addendum ?? 'Answer the caller now.',
        delegation_id: null,
      });
    }
    return id;
  }

  sendToolResult(callId: string, output: string): void {
    this.#send({
      type: 'response.item.create',
      item: { type: 'function_call_output', call_id: callId, output },
    });
    this.#unanswered.delete(callId);
    this.#maybeContinue();
  }

  /**
   * Every call of every finished batch has its output: the backend goes on (`response.create`). In
   * Live this never talks over the caller — the voice model still decides when to speak — so it is
   * sent even while the caller talks, when the core would hold a Realtime response back.
   */
  #maybeContinue(): void {
    if (this.#batches.size > 0 || this.#unanswered.size > 0 || !this.#awaitingContinue) return;
    this.#awaitingContinue = false;
    this.#continued = true;
    this.#send({ type: 'response.create' });
  }

  forgetUnheard(items: readonly UnheardItem[]): void {
    if (items.length === 0) return;
    // no truncation in Live: the rest of this stretch is dropped by the core, and the model is told
    this.#send({
      type: 'session.instructions.append',
      content:
        'The caller started talking and did not hear the rest of what you were saying. Stop, listen, and do not assume they heard it.',
      delegation_id: null,
    });
  }

  subscribe(listener: (event: ModelEvent) => void): void {
    this.#listener = listener;
    for (const event of this.#early.splice(0)) listener(event);
  }

  /** Ends the session: `session.close`, then a bounded wait for `session.closed` (its usage, its reason). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    clearTimeout(this.#startTimer);
    if (this.#stretch) clearTimeout(this.#stretch.timer);
    if (this.#ws.readyState !== WebSocket.OPEN) {
      this.#ws.terminate();
      return;
    }
    this.#send({ type: 'session.close' });
    const timer = setTimeout(() => this.#ws.terminate(), CLOSE_WAIT_MS);
    timer.unref();
    this.#closedWaiter = () => {
      clearTimeout(timer);
      this.#ws.close();
    };
  }

  #onMessage(text: string): void {
    let event: ServerEvent;
    try {
      event = JSON.parse(text) as ServerEvent;
    } catch {
      this.#emit({ type: 'warning', message: 'GPT-Live sent a message that is not JSON' });
      return;
    }
    switch (event.type) {
      case 'session.started':
        this.#started = true;
        clearTimeout(this.#startTimer);
        this.#emit({ type: 'ready' });
        return;
      case 'session.output_audio.delta':
        this.#agentAudio(event.delta);
        return;
      case 'session.input_transcript.delta':
        this.#callerText += event.delta;
        // words while the agent talks: the caller is speaking even if too softly for the detector
        if (this.#stretch && !this.#speech.speaking) this.#emit({ type: 'speech_started' });
        return;
      case 'session.output_transcript.delta':
        this.#agentText += event.delta;
        return;
      case 'response.event':
        this.#delegated(event.delegation_id ?? 'delegation', event.event as unknown as DelegatedEvent);
        return;
      case 'session.closed':
        this.#log.debug({ reason: event.reason, seconds: event.usage.seconds }, 'GPT-Live session closed');
        this.#closedWaiter?.();
        if (!this.#closing)
          this.#fail(
            CLOSE_REASONS[event.reason] ?? 'closed',
            `GPT-Live closed the session (${event.reason})`,
          );
        return;
      case 'error':
        if (!this.#started)
          this.#fail(
            'config_rejected',
            `GPT-Live rejected the session: ${event.error.message} (${event.error.code})`,
          );
        else
          this.#emit({ type: 'warning', message: `GPT-Live: ${event.error.message} (${event.error.code})` });
        return;
      default:
        return;
    }
  }

  /** Agent audio: forwarded untouched, in stretches the core sees as responses. */
  #agentAudio(delta: string): void {
    if (this.#closed) return;
    let stretch = this.#stretch;
    if (!stretch) {
      this.#flushCallerLine();
      const id = `live_speech_${++this.#nextId}`;
      stretch = {
        id,
        requestId: this.#requests.shift(),
        timer: setTimeout(() => this.#endStretch(), SPEECH_GAP_MS),
      };
      stretch.timer.unref();
      this.#stretch = stretch;
      this.#lastStretchId = id;
      this.#emit({ type: 'response_started', responseId: id });
    } else stretch.timer.refresh();
    this.#emit({ type: 'audio', responseId: stretch.id, itemId: stretch.id, contentIndex: 0, chunk: delta });
  }

  #endStretch(): void {
    const stretch = this.#stretch;
    if (!stretch) return;
    this.#stretch = undefined;
    this.#emit({ type: 'audio_done', responseId: stretch.id, itemId: stretch.id });
    if (this.#agentText) {
      this.#emit({ type: 'transcript', role: 'agent', itemId: stretch.id, text: this.#agentText.trim() });
      this.#agentText = '';
    }
    this.#emit({
      type: 'response_done',
      responseId: stretch.id,
      requestId: stretch.requestId,
      toolCalls: [],
    });
  }

  #flushCallerLine(): void {
    const text = this.#callerText.trim();
    this.#callerText = '';
    if (text)
      this.#emit({ type: 'transcript', role: 'caller', itemId: `${this.#lastStretchId}_caller`, text });
  }

  /**
   * A nested Responses event of a delegation: function calls, and the end of their batch. Item
   * events carry no response id, so calls are filed under the delegation's running response.
   */
  #delegated(delegationId: string, event: DelegatedEvent): void {
    if (event.type === 'response.created' && event.response?.id) {
      this.#running.set(delegationId, event.response.id);
      return;
    }
    const responseId = event.response?.id ?? this.#running.get(delegationId) ?? delegationId;
    if (event.type === 'response.output_item.done' && event.item?.type === 'function_call') {
      const call = {
        callId: event.item.call_id,
        name: event.item.name,
        arguments: event.item.arguments ?? '{}',
      };
      const batch = this.#batches.get(responseId) ?? [];
      batch.push(call);
      this.#batches.set(responseId, batch);
      this.#unanswered.add(call.callId);
      this.#emit({ type: 'tool_call', responseId, call });
      return;
    }
    if (
      event.type === 'response.completed' ||
      event.type === 'response.failed' ||
      event.type === 'response.incomplete'
    ) {
      const batch = this.#batches.get(responseId);
      this.#batches.delete(responseId);
      this.#running.delete(delegationId);
      if (!batch) return;
      this.#awaitingContinue = true;
      this.#emit({ type: 'tool_batch_done', batchId: responseId, toolCalls: [] });
      this.#maybeContinue();
    }
  }

  #send(event: ClientEvent): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(event));
  }

  #emit(event: ModelEvent): void {
    if (this.#listener) this.#listener(event);
    else this.#early.push(event);
  }

  #fail(code: ModelErrorCode, message: string): void {
    if (this.#closed && this.#closing) return;
    const wasClosed = this.#closed;
    this.#closed = true;
    clearTimeout(this.#startTimer);
    if (this.#stretch) clearTimeout(this.#stretch.timer);
    this.#ws.terminate();
    if (!wasClosed) {
      this.#log.warn({ code, reason: message }, 'GPT-Live session lost');
      this.#emit({ type: 'closed', code, message, expected: false });
    }
  }
}

/** How a close reason of Live's reads to the call core. */
const CLOSE_REASONS: Record<string, ModelErrorCode> = {
  expired: 'session_limit',
  content: 'other',
  connection_lost: 'unreachable',
  remote_hangup: 'closed',
  close_requested: 'closed',
};

/** The parts of a nested Responses streaming event this adapter reads. */
interface DelegatedEvent {
  type: string;
  response?: { id?: string };
  item?: { type: string; call_id: string; name: string; arguments?: string };
}
