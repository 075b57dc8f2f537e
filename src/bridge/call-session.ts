import type { Logger } from '../observability/logger.js';
import { redactText } from '../observability/logger.js';
import type { CallEvent, CallEventListener, CallState } from './call-events.js';
import { CallerInput } from './caller-input.js';
import { FunctionCallLoop, NO_TOOLS } from './function-calls.js';
import { OutboundAudio } from './outbound-audio.js';
import { type FinishRequest, PendingFinish } from './pending-finish.js';
import { PlaybackTracker } from './playback.js';
import type {
  CallControl,
  CallFailureCode,
  CallOutcome,
  MediaEvent,
  MediaStreamPort,
  ModelErrorCode,
  ModelEvent,
  ModelSession,
  ToolExecutor,
} from './ports.js';

/** What a CallSession needs to know about the agent. */
export interface CallBehaviour {
  greeting?: string;
  /** turn_detection.interrupt_response: caller speech cuts the agent off (false: barge-in is off). */
  interruptResponse: boolean;
  /** turn_detection.create_response: false means the bridge asks for each answer itself. */
  createResponse: boolean;
  maxDurationS: number;
  idleTimeoutS: number;
  logTranscripts: boolean;
}

export interface CallSessionOptions {
  callSid: string;
  streamSid: string;
  media: MediaStreamPort;
  model: ModelSession;
  behaviour: CallBehaviour;
  logger: Logger;
  tools?: ToolExecutor;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
  onEnded(outcome: CallOutcome, session: CallSession): void;
  /** The call's ordered event stream (records, metrics, reports). */
  onEvent?: CallEventListener;
}

/** A model session's failure, as the call's failure code. */
const MODEL_FAILURES: Record<ModelErrorCode, CallFailureCode> = {
  config_rejected: 'model_config_rejected',
  auth: 'model_auth',
  rate_limited: 'model_rate_limited',
  unreachable: 'model_unreachable',
  stalled: 'model_lost',
  closed: 'model_lost',
  session_limit: 'model_lost',
  other: 'model_lost',
};

/** A call event as the session states it; the stream adds the time. */
type CallEventBody = CallEvent extends infer E ? (E extends unknown ? Omit<E, 'atMs'> : never) : never;

/** The longest we wait for a goodbye to be heard before ending a call anyway. */
export const FINISH_SPEECH_TIMEOUT_MS = 20_000;

/**
 * One phone call: the phone side's media ⇄ the model session. All per-call state lives here (house
 * rule 3); N calls are N independent objects. The state ({@link CallState}) changes in one place,
 * `#enter`; nothing happens until {@link CallSession.start}.
 *
 * Fault boundary: every way into a call — a Twilio message, a Realtime event or close, a timer, a
 * tool's completion — runs through {@link CallSession.#guard}. A throw there ends this call with the
 * fallback and a logged reason; the process and every other call go on.
 */
export class CallSession implements CallControl {
  readonly callSid: string;
  readonly streamSid: string;

  readonly #o: CallSessionOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #playback = new PlaybackTracker();
  readonly #outbound: OutboundAudio;
  readonly #functionCalls: FunctionCallLoop;
  readonly #abort = new AbortController();
  readonly #timers: NodeJS.Timeout[] = [];
  /** Responses silenced by a barge-in: their late deltas are dropped. */
  readonly #silenced = new Set<string>();
  #state: CallState = 'connecting';
  /** The greeting's response request, so its own end moves the call on. */
  #greetingRequest: string | undefined;
  #outcome: CallOutcome | undefined;
  readonly #input: CallerInput;
  #idleTimer: NodeJS.Timeout | undefined;
  #lastActivityAt: number;
  /** A built-in tool asked to end or transfer the call once the current speech has been heard. */
  #finish: PendingFinish | undefined;
  /** The finish is being carried out (e.g. a REST redirect in flight). */
  #completingFinish = false;
  #runningResponse: string | undefined;
  /** The agent item whose audio is being forwarded (a new one starts agent speech). */
  #speakingItem: string | undefined;
  #responseHadAudio = false;

  constructor(options: CallSessionOptions) {
    this.#o = options;
    this.callSid = options.callSid;
    this.streamSid = options.streamSid;
    this.#log = options.logger;
    this.#now = options.now ?? (() => performance.now());
    this.#startedAt = this.#now();
    this.#lastActivityAt = this.#startedAt;
    this.#outbound = new OutboundAudio(options.media, this.#playback, this.#now);
    this.#input = new CallerInput({
      sink: options.model,
      now: this.#now,
      guard: (what, fn) => this.#guard(what, fn),
    });
    this.#functionCalls = new FunctionCallLoop({
      tools: options.tools ?? NO_TOOLS,
      sendOutput: (callId, output) => options.model.sendToolResult(callId, output),
      outputsSent: () => this.#guard('the follow-up to tool outputs', () => this.#afterToolOutputs()),
      signal: this.#abort.signal,
      now: () => this.#elapsed(),
      onRecord: (record) => {
        this.#emit({
          type: 'tool_call',
          name: record.name,
          callId: record.callId,
          arguments: record.arguments,
          output: record.output,
          durationMs: Math.round(record.durationMs),
          ok: !record.output.startsWith('{"error"'),
        });
      },
      onFault: (what, error) => this.#crash(what, error),
    });
  }

  /** Starts the call: its limits, and listening to the model (which may already have spoken). */
  start(): void {
    this.#emit({ type: 'started', callSid: this.callSid, streamSid: this.streamSid });
    const { maxDurationS, idleTimeoutS } = this.#o.behaviour;
    // the model session's own time limit is the adapter's business (it rolls sessions over)
    this.#timer('the call duration limit', maxDurationS * 1000, () =>
      this.end({ kind: 'completed', reason: 'maximum call duration reached' }),
    );
    this.#scheduleIdleCheck(idleTimeoutS * 1000);
    this.#o.model.subscribe((event) =>
      this.#guard(`the model event ${event.type}`, () => this.#onModelEvent(event)),
    );
  }

  get state(): CallState {
    return this.#state;
  }

  get outcome(): CallOutcome | undefined {
    return this.#outcome;
  }

  /** An event from the phone side of this call. */
  handleMedia(event: MediaEvent): void {
    this.#guard(`the media event ${event.type}`, () => {
      if (this.#state === 'ended') return;
      switch (event.type) {
        case 'audio':
          this.#input.frame(event.payload, event.timestampMs);
          return;
        case 'played':
          this.#playback.markEchoed(event.mark, this.#now());
          if (this.#finish) this.#maybeFinish();
          return;
        case 'dtmf':
          this.#onDigit(event.digit);
          return;
        case 'stopped':
          // a REST redirect (transfer) stops the stream, maybe before its REST answer reaches us
          this.end(
            this.#completingFinish && this.#finish
              ? this.#finish.request.outcome
              : { kind: 'completed', reason: 'Twilio stopped the stream (call ended)' },
          );
          return;
      }
    });
  }

  /** A protocol violation or transport failure on the phone side: end this call only. */
  fail(code: 'phone_protocol' | 'phone_lost' | 'internal', reason: string): void {
    this.end({ kind: 'failed', code, reason });
  }

  /** Idempotent teardown: stops timers and tools, closes both sockets, reports the outcome once. */
  end(outcome: CallOutcome): void {
    if (this.#state === 'ended') return;
    this.#enter('ended');
    this.#outcome = outcome;
    for (const t of this.#timers) clearTimeout(t);
    clearTimeout(this.#idleTimer);
    this.#input.close();
    this.#abort.abort(new Error(outcome.reason));
    // each step on its own: a socket that throws while closing must not keep the other open
    this.#teardown('closing the model session', () => this.#o.model.close());
    this.#teardown('closing the Twilio stream', () => this.#o.media.close());
    this.#emit({ type: 'ended', outcome, durationMs: Math.round(this.#elapsed()) });
    const log = outcome.kind === 'failed' ? this.#log.warn.bind(this.#log) : this.#log.info.bind(this.#log);
    log(
      {
        outcome: outcome.kind,
        ...(outcome.kind === 'failed' ? { code: outcome.code } : {}),
        durationMs: Math.round(this.#elapsed()),
      },
      `call ended: ${outcome.reason}`,
    );
    this.#teardown('reporting the end of the call', () => this.#o.onEnded(outcome, this));
  }

  /** CallControl: end or transfer once the agent's current speech has been heard. */
  finishAfterSpeech(request: FinishRequest): void {
    if (this.#state === 'finishing' || this.#state === 'ended') return;
    this.#enter('finishing');
    // built-ins run inside a tool batch, so #afterToolOutputs follows and asks for a farewell if owed
    this.#finish = new PendingFinish(request, {
      responseRunning: this.#o.model.responding,
      agentSilent: !this.#playback.playing && !this.#outbound.buffering,
    });
    this.#timer('the goodbye timer', FINISH_SPEECH_TIMEOUT_MS, () => this.#completeFinish());
  }

  #enter(state: CallState): void {
    if (state === this.#state) return;
    this.#log.debug({ from: this.#state, to: state }, 'call state');
    this.#state = state;
    this.#emit({ type: 'state', state });
  }

  /** Hands one event to the call's listener; a listener that throws is logged, never the call's end. */
  #emit(event: CallEventBody): void {
    const listener = this.#o.onEvent;
    if (!listener) return;
    try {
      listener({ atMs: Math.round(this.#elapsed()), ...event } as CallEvent);
    } catch (error) {
      this.#log.error(
        { reason: error instanceof Error ? error.message : String(error) },
        'a call event listener failed',
      );
    }
  }

  /** Runs one entry point of this call; a throw ends this call, never the process. */
  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#crash(what, error);
    }
  }

  #crash(what: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#log.error({ reason: message }, `internal error while handling ${what}; ending this call`);
    if (error instanceof Error) this.#log.debug({ stack: error.stack }, 'internal error details');
    try {
      this.end({
        kind: 'failed',
        code: 'internal',
        reason: `internal error while handling ${what}: ${message}`,
      });
    } catch {
      // end() guards each of its steps; nothing more can be done for this call
    }
  }

  #teardown(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error(
        { reason: error instanceof Error ? error.message : String(error) },
        `internal error while ${what}`,
      );
    }
  }

  #elapsed(): number {
    return this.#now() - this.#startedAt;
  }

  #timer(what: string, ms: number, fn: () => void): void {
    const t = setTimeout(() => this.#guard(what, fn), Math.max(0, ms));
    t.unref();
    this.#timers.push(t);
  }

  /** Re-arms one timer (never more than one handle, however long the call). */
  #scheduleIdleCheck(limitMs: number): void {
    this.#idleTimer = setTimeout(
      () =>
        this.#guard('the idle timer', () => {
          const idleFor = this.#now() - this.#lastActivityAt;
          if (idleFor >= limitMs && !this.#playback.playing && !this.#input.speaking) {
            this.end({ kind: 'completed', reason: `no one spoke for ${Math.round(idleFor / 1000)} s` });
          } else {
            this.#scheduleIdleCheck(limitMs);
          }
        }),
      Math.max(250, limitMs / 4),
    );
    this.#idleTimer.unref();
  }

  #onDigit(digit: string): void {
    this.#lastActivityAt = this.#now();
    this.#log.info(
      { digit: this.#o.behaviour.logTranscripts ? digit : '[redacted]' },
      'caller pressed a key',
    );
    this.#o.model.addCallerText(`[The caller pressed the keypad key "${digit}"]`);
    this.#o.model.respond();
  }

  #onModelEvent(event: ModelEvent): void {
    if (this.#state === 'ended') return;
    switch (event.type) {
      case 'audio':
        if (this.#silenced.has(event.responseId)) return;
        if (event.itemId !== this.#speakingItem) {
          this.#speakingItem = event.itemId;
          this.#emit({ type: 'agent_speech_started', itemId: event.itemId });
        }
        this.#lastActivityAt = this.#now();
        this.#responseHadAudio = true;
        this.#outbound.delta(event.responseId, event.itemId, event.contentIndex, event.chunk);
        return;
      case 'ready':
        this.#greet();
        return;
      case 'speech_started':
        if (this.#state === 'greeting') this.#enter('active');
        this.#emit({ type: 'caller_speech_started' });
        this.#lastActivityAt = this.#now();
        this.#input.speechStarted();
        this.#bargeIn();
        return;
      case 'speech_stopped':
        this.#emit({ type: 'caller_speech_stopped' });
        this.#lastActivityAt = this.#now();
        this.#input.speechStopped();
        return;
      case 'turn_committed':
        // the model answers a turn itself only when create_response is on and no response runs
        if (!this.#o.behaviour.createResponse || this.#o.model.responding) this.#o.model.respond();
        return;
      case 'response_started':
        this.#runningResponse = event.responseId;
        this.#responseHadAudio = false;
        return;
      case 'audio_done':
        if (!this.#silenced.has(event.responseId)) this.#outbound.flush();
        return;
      case 'tool_call':
        this.#functionCalls.itemDone(event.responseId, event.call);
        return;
      case 'response_done':
        this.#onResponseDone(event);
        return;
      case 'transcript':
        if (!event.text) return;
        // what people said is logged redacted unless the agent opts in; the text itself is an event
        this.#log.info(
          { role: event.role, text: redactText(event.text, this.#o.behaviour.logTranscripts) },
          event.role === 'caller' ? 'caller said' : 'agent said',
        );
        this.#emit({
          type: 'transcript',
          role: event.role,
          text: event.text,
          ...(event.role === 'agent' ? { itemId: event.itemId } : {}),
        });
        return;
      case 'warning':
        this.#log.warn(event.message);
        this.#emit({ type: 'warning', message: event.message });
        return;
      case 'resumed':
        // what was already sent keeps playing; the old session's items can no longer be cut
        this.#outbound.drop();
        this.#playback.forgetItems();
        this.#runningResponse = undefined;
        this.#speakingItem = undefined;
        this.#emit({ type: 'model_resumed', reason: event.reason, gapMs: event.gapMs });
        this.#log.info(
          { attempt: event.attempt, gapMs: event.gapMs },
          event.reason === 'rollover'
            ? 'rolled the model session over before its time limit; conversation replayed'
            : 'reconnected to the model; conversation replayed',
        );
        return;
      case 'closed':
        this.#onModelClosed(event);
        return;
    }
  }

  #onResponseDone(event: Extract<ModelEvent, { type: 'response_done' }>): void {
    this.#runningResponse = undefined;
    this.#finish?.responseDone(this.#responseHadAudio, event.requestId);
    if (this.#state === 'greeting' && event.requestId === this.#greetingRequest) this.#enter('active');
    if (event.failure)
      this.#log.warn({ responseId: event.responseId }, `the model's response failed: ${event.failure}`);
    this.#functionCalls.responseDone(event.responseId, event.toolCalls);
    if (this.#finish) this.#outbound.flush();
    this.#maybeFinish();
  }

  /**
   * A response's tool outputs are all sent. One `response.create` lets the model use them — queued
   * behind a response that is running now, since that one was created before the outputs existed.
   * Not while the caller is talking (their turn's response will see the outputs), and not when the
   * call is finishing — then only the farewell, if one is still owed.
   */
  #afterToolOutputs(): void {
    if (this.#finish) {
      this.#finish.askFarewell((farewell) => this.#o.model.respond(farewell));
      return;
    }
    if (!this.#input.speaking) this.#o.model.respond();
  }

  #maybeFinish(): void {
    if (this.#finish?.speechDone && !this.#playback.playing && !this.#outbound.buffering) {
      this.#completeFinish();
    }
  }

  #completeFinish(): void {
    const finish = this.#finish?.request;
    if (!finish || this.#completingFinish || this.#state === 'ended') return;
    this.#completingFinish = true;
    const before = finish.before ?? (async () => undefined);
    before()
      .catch((error: Error) => {
        this.#log.warn(
          { reason: error.message },
          'could not redirect the call over REST; using the stream action instead',
        );
      })
      .then(() => this.#guard('the end of a finished call', () => this.end(finish.outcome)));
  }

  #onModelClosed(closed: Extract<ModelEvent, { type: 'closed' }>): void {
    if (closed.expected || this.#state === 'ended') return;
    if (closed.code === 'session_limit') {
      this.end({ kind: 'completed', reason: closed.message });
      return;
    }
    this.#log.error(
      { reason: closed.message, code: closed.code },
      'lost the model session; ending the stream',
    );
    this.end({ kind: 'failed', code: MODEL_FAILURES[closed.code], reason: closed.message });
  }

  /** The model is ready: greet first when the agent has a greeting, else wait for the caller. */
  #greet(): void {
    if (this.#state !== 'connecting') return;
    const { greeting } = this.#o.behaviour;
    if (!greeting) {
      this.#enter('active');
      return;
    }
    this.#enter('greeting');
    this.#greetingRequest = this.#o.model.respond(
      `Start the call: greet the caller by saying exactly this, then wait for their answer: "${greeting}"`,
    );
  }

  /**
   * Caller speech while the agent is talking (barge-in on): stop what the caller hears at once, then
   * make the model forget what was not heard. The server cancels the running response itself
   * (`interrupt_response`), so any of its deltas still on the wire are dropped here.
   */
  #bargeIn(): void {
    if (!this.#o.behaviour.interruptResponse) return; // barge-in off: the agent finishes speaking
    if (this.#runningResponse) this.#silenced.add(this.#runningResponse);
    if (this.#playback.playing || this.#outbound.buffering) {
      this.#o.media.sendClear();
      this.#outbound.drop();
    }
    // also audio that never played (dropped for a stalled reader): the model must not think it was said
    const cuts = this.#playback.interrupt(this.#now());
    for (const cut of cuts) this.#silenced.add(cut.responseId);
    this.#speakingItem = undefined;
    if (cuts.length === 0) return;
    this.#o.model.forgetUnheard(cuts);
    this.#emit({ type: 'barge_in', cut: cuts.map((c) => ({ itemId: c.itemId, heardMs: c.audioEndMs })) });
    this.#log.info({ itemId: cuts[0]!.itemId, heardMs: cuts[0]!.audioEndMs }, 'caller interrupted the agent');
  }
}
