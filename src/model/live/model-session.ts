import type { ClientEvent, FunctionTool, InitialItem, SessionStartEvent } from 'openai/resources/live/live';
import { SilenceCheck, SpeechDetector, type SpeechDetectorOptions } from '../../audio/speech-detector.js';
import type {
  ModelErrorCode,
  ModelEvent,
  ModelSession,
  ModelToolCall,
  SilencePadding,
  UnheardItem,
} from '../../bridge/ports.js';
import type { Logger } from '../../observability/logger.js';
import type { LiveEvent } from './events.js';
import { LiveSocket } from './live-socket.js';

/** Agent audio stops for this long: that stretch of speech is over (Live has no response events). */
export const SPEECH_GAP_MS = 500;
/** Commands remembered by event_id, to name the one an error refuses. */
const MAX_REMEMBERED_COMMANDS = 64;

/** A command as a warning names it: its type, and the tool call an output answers. */
function describeCommand(event: ClientEvent): string {
  const item = (event as { item?: { type?: string; call_id?: string } }).item;
  return item?.call_id ? `${event.type} (the output of call ${item.call_id})` : event.type;
}

/** Caller speech over the agent this long is an interruption (a backchannel is shorter). */
export const DEFAULT_INTERRUPT_AFTER_MS = 600;
/** Waits before each reconnect attempt after a lost session: at once, then with backoff. */
const RECONNECT_DELAYS_MS = [0, 500, 2_000];
/** A session is replaced this long before it expires (`expires_at`), at a quiet moment. */
const ROLLOVER_LEAD_MS = 60_000;
/** What a new session is told of the call so far (Live takes at most 128 items, ~8k tokens). */
const MAX_HISTORY_ITEMS = 120;
const MAX_HISTORY_CHARS = 24_000;

export interface LiveSessionOptions {
  url: string;
  apiKey: string;
  logger: Logger;
  /** The first message (built by {@link buildSessionStart}), asked anew for each session: tool lists change. */
  start: () => SessionStartEvent;
  speech: SpeechDetectorOptions;
  /**
   * Caller speech over the agent cuts it off only once it has lasted this long, or once Live itself
   * stops talking (model-controlled barge-in): a backchannel or a cough does not cut a sentence Live
   * goes on with. 0: any caller sound cuts at once (the old behaviour).
   */
  interruptAfterMs?: number;
  /** The first session starts only after this settles (the tool servers being tried). */
  waitFor?: Promise<unknown>;
  /** Socket ping interval (default 5 s); two quiet intervals in a row are a lost session. */
  heartbeatMs?: number;
  /** Subscribes to tool list changes; the returned function unsubscribes (at the session's end). */
  onToolsChange?: (listener: () => void) => () => void;
  /** Monotonic ms (tests). */
  now?: () => number;
  reconnectDelaysMs?: readonly number[];
  /** How long before `expires_at` the session is replaced (tests shorten it). */
  rolloverLeadMs?: number;
}

/**
 * The call core's {@link ModelSession} on GPT-Live. Live is full duplex and has no response
 * lifecycle, no speech events and no truncation, so this adapter makes what the core needs out of
 * what Live gives:
 * - a *response* is a stretch of agent audio (it ends after {@link SPEECH_GAP_MS} without audio);
 *   the oldest open `respond()` request is credited with the next stretch (greeting, goodbye);
 * - caller speech comes from an energy detector on the caller's frames ({@link SpeechDetector});
 * - tool calls come from Responses delegation (`response.event` → `response.output_item.done`),
 *   a batch ending with the nested response; outputs go back as `response.item.create`, then one
 *   `response.create` once every output is in (the core's own "answer now" is absorbed);
 * - barge-in cannot truncate: the core stops Twilio's queue, the rest of that stretch is dropped,
 *   and the model is told the caller did not hear it;
 * - transcripts arrive as fragments and are grouped into lines, kept as the call's history;
 * - a lost connection is a lost session: a new one starts with that history as its `input`
 *   (`resumed`), and one is started before `expires_at` at a quiet moment (a rollover).
 */
export class LiveModelSession implements ModelSession {
  readonly openedAt: number;
  #closed = false;
  readonly #o: LiveSessionOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #speech: SpeechDetector;
  readonly #silence = new SilenceCheck();
  #listener: ((event: ModelEvent) => void) | undefined;
  readonly #early: ModelEvent[] = [];
  /** The session in use; during a rollover, `#next` is starting beside it. */
  #socket: LiveSocket;
  #next: LiveSocket | undefined;
  /** A replacement under way: why, which attempt, since when. */
  #resuming: { reason: 'lost' | 'rollover'; attempt: number; since: number } | undefined;
  #rolloverTimer: NodeJS.Timeout | undefined;
  #rolloverDue = false;
  #ready = false;
  #nextId = 0;
  /** The backend's tool list as the session last heard it (JSON), to notice changes. */
  #toolsSent = '';
  /** The call so far, for a replacement session's `input`. */
  readonly #history: InitialItem[] = [];
  /** `respond()` requests not yet credited with a stretch of speech. */
  readonly #requests: string[] = [];
  /** Calls whose output has not been sent yet. */
  readonly #unanswered = new Set<string>();
  /** A batch of calls ended: the backend waits for `response.create` once every output is in. */
  #awaitingContinue = false;
  #stretch: { id: string; requestId: string | undefined; timer: NodeJS.Timeout; told?: boolean } | undefined;
  /** Tool calls by delegated response, until that response completes. */
  readonly #batches = new Map<string, ModelToolCall[]>();
  /** The nested response each delegation is running. */
  readonly #running = new Map<string, string>();
  #callerText = '';
  #agentText = '';
  #stopToolUpdates: (() => void) | undefined;
  /** What each recent command was, by its event_id (for refusals). */
  readonly #commands = new Map<string, string>();
  /** Caller speech over the agent that is not barge-in yet (see `interruptAfterMs`). */
  #held = false;
  readonly #interruptAfterMs: number;
  #lastStretchId = '';

  constructor(options: LiveSessionOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.#now = options.now ?? (() => performance.now());
    this.openedAt = this.#now();
    this.#speech = new SpeechDetector(options.speech);
    this.#interruptAfterMs = options.interruptAfterMs ?? DEFAULT_INTERRUPT_AFTER_MS;
    this.#socket = this.#open(() => options.start(), options.waitFor);
    this.#stopToolUpdates = options.onToolsChange?.(() => this.#refreshTools());
  }

  toolsChanged(): void {
    this.#refreshTools();
  }

  /** Live detects the end of speech on the audio as well: a quiet line gets silence, as on Realtime. */
  readonly speechEndPadding: SilencePadding = { quietMs: 750, padMs: 1_000 };

  get closed(): boolean {
    return this.#closed;
  }

  /** A stretch of agent speech is under way (what the caller may be hearing). */
  get responding(): boolean {
    return this.#stretch !== undefined;
  }

  appendAudio(base64: string): void {
    if (this.#closed) return;
    // base64 needs no escaping: the frame is wrapped, not re-serialised (hot path)
    if (this.#socket.started)
      this.#socket.sendRaw(`{"type":"session.input_audio.append","audio":"${base64}"}`);
    const change = this.#speech.frame(base64);
    if (change === 'started') this.#callerStarted();
    else if (change === 'stopped') this.#callerStopped();
    else if (this.#held && this.#speech.loudMs >= this.#interruptAfterMs) this.#releaseHeld();
  }

  /** Caller speech over a stretch waits (see `interruptAfterMs`); otherwise it is a turn at once. */
  #callerStarted(): void {
    if (this.#stretch && this.#interruptAfterMs > 0) {
      this.#held = true;
      return;
    }
    this.#emit({ type: 'speech_started' });
    this.#tellInterrupted();
  }

  #callerStopped(): void {
    // a sound shorter than interruptAfterMs over the agent: Live went on, and so does the call
    if (this.#held) {
      this.#held = false;
      return;
    }
    this.#emit({ type: 'speech_stopped' });
    // Live's turns are the model's: it answers by itself unless it is still speaking
    this.#emit({ type: 'turn_committed', answered: !this.responding });
  }

  /** The caller has talked over the agent long enough (or Live stopped): now it is barge-in. */
  #releaseHeld(): void {
    this.#held = false;
    this.#emit({ type: 'speech_started' });
    this.#tellInterrupted();
  }

  addCallerText(text: string): void {
    // Live has no keypad events on a WebSocket session: the digit is context for the model
    this.#send({ type: 'session.thinking.append', content: text, delegation_id: null });
  }

  /**
   * Live's turns are the model's: a bare "answer now" (after a caller turn, after tool outputs) sends
   * nothing — OpenAI's migration guide removes such triggers, and an appended instruction can cut
   * Live's current speech. Only real words (a greeting, a farewell) are appended.
   */
  respond(addendum?: string): string {
    const id = `live_req_${++this.#nextId}`;
    this.#requests.push(id);
    if (addendum !== undefined)
      this.#send({ type: 'session.instructions.append', content: addendum, delegation_id: null });
    return id;
  }

  sendToolResult(callId: string, output: string): void {
    // a call of a session that was replaced since has nowhere to go
    if (!this.#unanswered.delete(callId)) return;
    this.#send({
      type: 'response.item.create',
      item: { type: 'function_call_output', call_id: callId, output },
    });
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
    this.#send({ type: 'response.create' });
  }

  forgetUnheard(items: readonly UnheardItem[]): void {
    if (items.length > 0) this.#tellInterrupted();
  }

  /**
   * No truncation in Live: the core drops the rest of the stretch, and the model is told — once per
   * stretch, as soon as the caller is heard over it (Live keeps generating until it stops itself,
   * whether or not the caller had heard everything sent so far).
   */
  #tellInterrupted(): void {
    const stretch = this.#stretch;
    if (!stretch || stretch.told) return;
    stretch.told = true;
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
    this.#stop();
  }

  /** Closes both sessions (the one in use, a replacement starting) once; false if already done. */
  #stop(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#stopToolUpdates?.();
    clearTimeout(this.#rolloverTimer);
    if (this.#stretch) clearTimeout(this.#stretch.timer);
    this.#socket.close();
    this.#next?.close();
    return true;
  }

  #open(start: () => SessionStartEvent, waitFor?: Promise<unknown>): LiveSocket {
    const socket: LiveSocket = new LiveSocket({
      url: this.#o.url,
      apiKey: this.#o.apiKey,
      start,
      ...(waitFor ? { waitFor } : {}),
      ...(this.#o.heartbeatMs ? { heartbeatMs: this.#o.heartbeatMs } : {}),
      listener: {
        event: (event) => this.#onEvent(socket, event),
        lost: (code, message) => this.#onLost(socket, code, message),
      },
    });
    return socket;
  }

  /** A session's start: the first one makes the call ready; a replacement takes over. */
  #onStarted(socket: LiveSocket, expiresAt: number | undefined): void {
    if (socket === this.#next) {
      // a rollover: the new session takes over; the old one is closed politely
      this.#socket.close();
      this.#socket = socket;
      this.#next = undefined;
    }
    this.#scheduleRollover(expiresAt);
    this.#toolsSent = JSON.stringify(toolsOf(this.#o.start()));
    const resuming = this.#resuming;
    this.#resuming = undefined;
    if (!this.#ready) {
      this.#ready = true;
      this.#emit({ type: 'ready' });
    } else if (resuming)
      this.#emit({
        type: 'resumed',
        reason: resuming.reason,
        attempt: resuming.attempt,
        gapMs: Math.round(this.#now() - resuming.since),
      });
  }

  #onLost(socket: LiveSocket, code: ModelErrorCode, message: string): void {
    if (this.#closed) return;
    if (socket === this.#next) {
      // the replacement failed to start: keep the old session and try again at the next quiet moment
      this.#next = undefined;
      this.#resuming = undefined;
      this.#rolloverDue = true;
      return;
    }
    if (socket !== this.#socket) return;
    const attempt = (this.#resuming?.attempt ?? 0) + 1;
    const delays = this.#o.reconnectDelaysMs ?? RECONNECT_DELAYS_MS;
    // a session that never started (a refused key, a rejected configuration) is not retried
    const retry =
      (this.#ready || this.#resuming !== undefined) && code !== 'config_rejected' && code !== 'auth';
    if (!retry || attempt > delays.length) {
      this.#fail(
        code,
        attempt > delays.length ? `${message} (after ${delays.length} reconnect attempts)` : message,
      );
      return;
    }
    this.#endStretch();
    this.#unanswered.clear();
    this.#batches.clear();
    this.#running.clear();
    this.#awaitingContinue = false;
    this.#resuming = { reason: 'lost', attempt, since: this.#resuming?.since ?? this.#now() };
    this.#emit({ type: 'warning', message: `${message}; reconnecting (attempt ${attempt})` });
    const timer = setTimeout(
      () => {
        if (!this.#closed) this.#socket = this.#open(() => this.#restart());
      },
      delays[attempt - 1],
    );
    timer.unref();
  }

  #scheduleRollover(expiresAt: number | undefined): void {
    clearTimeout(this.#rolloverTimer);
    if (!expiresAt) return;
    const lead = this.#o.rolloverLeadMs ?? ROLLOVER_LEAD_MS;
    this.#rolloverTimer = setTimeout(
      () => {
        this.#rolloverDue = true;
        this.#maybeRollover();
      },
      Math.max(0, expiresAt * 1000 - Date.now() - lead),
    );
    this.#rolloverTimer.unref();
  }

  /** At a quiet moment (nobody speaking, no tool running), a new session replaces the expiring one. */
  #maybeRollover(): void {
    const quiet =
      !this.#stretch && !this.#speech.speaking && this.#unanswered.size === 0 && this.#batches.size === 0;
    if (!this.#rolloverDue || !quiet || this.#next || this.#resuming || this.#closed) return;
    this.#rolloverDue = false;
    this.#resuming = { reason: 'rollover', attempt: 1, since: this.#now() };
    this.#next = this.#open(() => this.#restart());
  }

  /** The first message of a replacement session: the same configuration, and the call so far. */
  #restart(): SessionStartEvent {
    const items: InitialItem[] = [];
    let chars = 0;
    for (let i = this.#history.length - 1; i >= 0 && items.length < MAX_HISTORY_ITEMS; i--) {
      const item = this.#history[i]!;
      chars += item.content.reduce((n, c) => n + c.text.length, 0);
      if (chars > MAX_HISTORY_CHARS) break;
      items.unshift(item);
    }
    const note: InitialItem = {
      role: 'developer',
      content: [
        {
          type: 'input_text',
          text: 'The call goes on from here: the conversation so far is above. Do not greet the caller again.',
        },
      ],
    };
    const start = this.#o.start();
    return { ...start, session: { ...start.session, input: [...items, note] } };
  }

  #onEvent(socket: LiveSocket, event: LiveEvent): void {
    if (this.#closed) return;
    if (event.type === 'session.started') {
      this.#onStarted(socket, event.expiresAt);
      return;
    }
    // a replacement being started says nothing to the call until it takes over
    if (socket !== this.#socket) return;
    switch (event.type) {
      case 'session.output_audio.delta':
        this.#agentAudio(event.delta);
        return;
      case 'session.input_transcript.delta':
        this.#callerText += event.delta;
        // words while the agent talks: the caller is speaking even if too softly for the detector
        if (this.#stretch && !this.#speech.speaking && !this.#held) this.#callerStarted();
        return;
      case 'session.output_transcript.delta':
        this.#agentText += event.delta;
        return;
      case 'response.event':
        this.#delegated(event.delegationId ?? 'delegation', event.event as unknown as DelegatedEvent);
        return;
      case 'error': {
        const command = event.clientEventId ? this.#commands.get(event.clientEventId) : undefined;
        this.#emit({
          type: 'warning',
          message: `GPT-Live${command ? ` refused ${command}` : ''}: ${event.message} (${event.code})`,
        });
        return;
      }
      default:
        return;
    }
  }

  /** Agent audio: forwarded untouched, in stretches the core sees as responses. */
  #agentAudio(delta: string): void {
    if (this.#closed) return;
    let stretch = this.#stretch;
    // Live may stream silence between utterances (reported by others, unverified): silence neither
    // starts a stretch nor keeps one going, and outside one it is not sent to the phone at all
    if (this.#silence.test(delta)) {
      if (stretch)
        this.#emit({
          type: 'audio',
          responseId: stretch.id,
          itemId: stretch.id,
          contentIndex: 0,
          chunk: delta,
        });
      return;
    }
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
    // Live stopped while the caller talks over it: it yielded, so what is still queued goes
    if (this.#held) this.#releaseHeld();
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

  /**
   * Every command carries an event_id, so a refusal (`error.client_event_id`) names what it refused
   * (W11). The last few are remembered for that; caller audio goes raw, untagged (hot path).
   */
  #send(event: ClientEvent): void {
    const eventId = `va_${++this.#nextId}`;
    this.#commands.set(eventId, describeCommand(event));
    if (this.#commands.size > MAX_REMEMBERED_COMMANDS)
      this.#commands.delete(this.#commands.keys().next().value!);
    this.#socket.send({ ...event, event_id: eventId } as ClientEvent);
  }

  #emit(event: ModelEvent): void {
    // what was said is kept for a replacement session; a quiet moment may be the one to roll over
    if (event.type === 'transcript') {
      this.#history.push(
        event.role === 'caller'
          ? { role: 'user', content: [{ type: 'input_text', text: event.text }] }
          : { role: 'assistant', content: [{ type: 'output_text', text: event.text }] },
      );
      if (this.#history.length > MAX_HISTORY_ITEMS * 2) this.#history.splice(0, MAX_HISTORY_ITEMS);
    }
    if (this.#listener) this.#listener(event);
    else this.#early.push(event);
    if (event.type === 'response_done' || event.type === 'turn_committed') {
      if (this.#rolloverDue) this.#maybeRollover();
      this.#refreshTools();
    }
  }

  /**
   * The agent's tools changed (an MCP server came back, its list changed): the running session's
   * backend gets the new list (`session.update`, the same delegation mode), checked after each
   * stretch of speech and each caller turn.
   */
  #refreshTools(): void {
    if (this.#closed || this.#resuming || !this.#socket.started) return;
    const tools = toolsOf(this.#o.start());
    if (!tools) return;
    const json = JSON.stringify(tools);
    if (json === this.#toolsSent) return;
    this.#toolsSent = json;
    this.#send({
      type: 'session.update',
      session: { delegation: { type: 'responses', responses: { tools } } },
    });
  }

  #fail(code: ModelErrorCode, message: string): void {
    if (!this.#stop()) return;
    this.#log.warn({ code, reason: message }, 'GPT-Live session lost');
    this.#emit({ type: 'closed', code, message, expected: false });
  }
}

/** The parts of a nested Responses streaming event this adapter reads. */
interface DelegatedEvent {
  type: string;
  response?: { id?: string };
  item?: { type: string; call_id: string; name: string; arguments?: string };
}

/** The function tools a start gives the backend (undefined without Responses delegation). */
function toolsOf(start: SessionStartEvent): FunctionTool[] | undefined {
  const delegation = start.session.delegation;
  if (delegation?.type !== 'responses') return undefined;
  return (delegation.responses.tools ?? []).filter((t): t is FunctionTool => t.type === 'function');
}
