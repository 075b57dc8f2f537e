import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { redactText } from '../observability/logger.js';
import { AgentSpeech } from './agent-speech.js';
import type { CallEventBody, CallEventListener, CallState } from './call-events.js';
import { CallScope } from './call-scope.js';
import { CallerInput } from './caller-input.js';
import { FunctionCallLoop, NO_TOOLS } from './function-calls.js';
import { outcomeOfModelClose } from './model-failure.js';
import { type FinishRequest, PendingFinish } from './pending-finish.js';
import type {
  CallAudioTap,
  CallControl,
  CallOutcome,
  MediaEvent,
  MediaStreamPort,
  ModelEvent,
  ModelSession,
  ToolExecutor,
} from './ports.js';
import type { CallTools } from './tool-ports.js';

/** What a CallSession needs to know about the agent. */
export interface CallBehaviour {
  greeting?: string;
  /** turn_detection.interrupt_response: caller speech cuts the agent off (false: barge-in is off). */
  interruptResponse: boolean;
  maxDurationS: number;
  idleTimeoutS: number;
  logTranscripts: boolean;
}

export interface CallSessionOptions {
  callSid: string;
  streamId: string;
  media: MediaStreamPort;
  model: ModelSession;
  behaviour: CallBehaviour;
  logger: Logger;
  /** The tools offered to the call; the call binds its own executor (built-ins act on this call). */
  tools?: CallTools;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
  /** The call's ordered event stream (records, metrics, reports); its last event is `ended`, once. */
  onEvent?: CallEventListener;
  /** Sees the call's audio both ways (recording); times in ms since the call started. */
  audioTap?: CallAudioTap;
  /** The phone numbers of the call, as the phone provider gave them (for its record). */
  parties?: { from?: string; to?: string };
  /** outbound: the agent placed this call. */
  direction?: 'inbound' | 'outbound';
}

/** The longest we wait for a goodbye to be heard before ending a call anyway. */
export const FINISH_SPEECH_TIMEOUT_MS = 20_000;
/** How far a caller frame's timestamp may run ahead of the call's wall clock (stream start vs ours). */
const CALLER_TIMESTAMP_SLACK_MS = 2_000;
/** A failed response is asked for again after this pause (a rate limit usually passes in a second). */
export const RETRY_FAILED_RESPONSE_AFTER_MS = 1_000;
/** At most this many failed responses are asked for again in one call (no loop, no runaway bill). */
export const MAX_FAILED_RESPONSE_RETRIES = 2;

/**
 * One phone call: the phone side's media ⇄ the model session. All per-call state lives here (house
 * rule 3); N calls are N independent objects. The state ({@link CallState}) changes in one place,
 * `#enter`; nothing happens until {@link CallSession.start}.
 *
 * Fault boundary: every way into a call — a Twilio message, a Realtime event or close, a timer, a
 * tool's completion — runs through {@link CallScope.guard}. A throw there ends this call with the
 * fallback and a logged reason; the process and every other call go on.
 */
export class CallSession implements CallControl {
  readonly callSid: string;
  readonly streamId: string;

  readonly #o: CallSessionOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #scope: CallScope;
  readonly #speech: AgentSpeech;
  readonly #functionCalls: FunctionCallLoop;
  readonly #abort = new AbortController();
  readonly #tap: CallAudioTap | undefined;
  /** When the caller's last turn ended (its last frame), until the answer starts: turn latency. */
  #turnEndedAt: number | undefined;
  #state: CallState = 'connecting';
  /** The greeting's response request, so its own end moves the call on. */
  #greetingRequest: string | undefined;
  #outcome: CallOutcome | undefined;
  readonly #input: CallerInput;
  #lastActivityAt: number;
  /** A built-in tool asked to end or transfer the call once the current speech has been heard. */
  #finish: PendingFinish | undefined;
  /** The finish is being carried out (e.g. a REST redirect in flight). */
  #completingFinish = false;
  /** Caller turns the model committed (a confirmation must come after its question). */
  #callerTurns = 0;
  /** Failed responses asked for again so far (see {@link MAX_FAILED_RESPONSE_RETRIES}). */
  #failedRetries = 0;

  constructor(options: CallSessionOptions) {
    this.#o = options;
    this.callSid = options.callSid;
    this.streamId = options.streamId;
    this.#log = options.logger;
    this.#now = options.now ?? (() => performance.now());
    this.#scope = new CallScope({
      logger: options.logger,
      now: this.#now,
      onEvent: options.onEvent,
      onCrash: (what, error) => this.#crash(what, error),
    });
    this.#lastActivityAt = this.#scope.startedAt;
    this.#tap = options.audioTap && callTimeline(options.audioTap, this.#scope.startedAt, this.#now);
    this.#speech = new AgentSpeech({
      media: options.media,
      model: options.model,
      now: this.#now,
      emit: (event) => this.#onSpeechEvent(event),
      bargeIn: options.behaviour.interruptResponse,
      tap: this.#tap,
    });
    this.#input = new CallerInput({
      sink: options.model,
      now: this.#now,
      guard: (what, fn) => this.#scope.guard(what, fn),
      ...(options.model.speechEndPadding ? { padding: options.model.speechEndPadding } : {}),
    });
    this.#functionCalls = new FunctionCallLoop({
      tools: options.tools ? this.#executorFrom(options.tools, options.logger) : NO_TOOLS,
      sendOutput: (callId, output) => options.model.sendToolResult(callId, output),
      outputsSent: () => this.#scope.guard('the follow-up to tool outputs', () => this.#afterToolOutputs()),
      signal: this.#abort.signal,
      now: () => this.#scope.elapsed(),
      onRecord: (record) => {
        this.#scope.emit({
          type: 'tool_call',
          name: record.name,
          callId: record.callId,
          arguments: record.arguments,
          output: record.result.output,
          durationMs: Math.round(record.durationMs),
          ok: record.result.ok,
          ...(record.result.ok ? {} : { code: record.result.code }),
        });
      },
      onFault: (what, error) => this.#crash(what, error),
      onStarted: (call) => this.#scope.emit({ type: 'tool_started', name: call.name, callId: call.callId }),
    });
  }

  /** An executor bound to this call, made when the model first calls a tool. */
  #executorFrom(tools: CallTools, logger: Logger): ToolExecutor {
    let executor: ToolExecutor | undefined;
    return {
      execute: (call, signal) => {
        const bound = executor ?? tools.forCall(this, logger);
        executor = bound;
        return bound.execute(call, signal);
      },
    };
  }

  /** Starts the call: its limits, and listening to the model (which may already have spoken). */
  start(): void {
    this.#scope.emit({
      type: 'started',
      callSid: this.callSid,
      streamId: this.streamId,
      ...this.#o.parties,
      ...(this.#o.direction === 'outbound' ? { direction: 'outbound' as const } : {}),
    });
    const { maxDurationS, idleTimeoutS } = this.#o.behaviour;
    // the model session's own time limit is the adapter's business (it rolls sessions over)
    this.#scope.timer('the call duration limit', maxDurationS * 1000, () =>
      this.end({ kind: 'completed', reason: 'maximum call duration reached' }),
    );
    this.#scheduleIdleCheck(idleTimeoutS * 1000);
    this.#o.model.subscribe((event) => this.#scope.handle('model', event, this.#onModelEvent));
  }

  get state(): CallState {
    return this.#state;
  }

  get outcome(): CallOutcome | undefined {
    return this.#outcome;
  }

  /** An event from the phone side of this call. */
  handleMedia(event: MediaEvent): void {
    this.#scope.handle('media', event, this.#onMediaEvent);
  }

  readonly #onMediaEvent = (event: MediaEvent): void => {
    if (this.#state === 'ended') return;
    switch (event.type) {
      case 'audio':
        this.#input.frame(event.payload, event.timestampMs);
        this.#tap?.caller(event.payload, event.timestampMs);
        return;
      case 'played':
        this.#speech.played(event.mark);
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
  };

  /** A protocol violation or transport failure on the phone side: end this call only. */
  fail(code: 'phone_protocol' | 'phone_lost' | 'internal', reason: string): void {
    this.end({ kind: 'failed', code, reason });
  }

  /** Idempotent teardown: stops timers and tools, closes both sockets, reports the outcome once. */
  end(outcome: CallOutcome): void {
    if (this.#state === 'ended') return;
    this.#enter('ended');
    this.#outcome = outcome;
    this.#scope.clearTimers();
    this.#input.close();
    this.#abort.abort(new Error(outcome.reason));
    // each step on its own: a socket that throws while closing must not keep the other open
    this.#scope.teardown('closing the model session', () => this.#o.model.close());
    this.#scope.teardown('closing the Twilio stream', () => this.#o.media.close());
    this.#scope.emit({ type: 'ended', outcome, durationMs: Math.round(this.#scope.elapsed()) });
    const log = outcome.kind === 'failed' ? this.#log.warn.bind(this.#log) : this.#log.info.bind(this.#log);
    log(
      {
        outcome: outcome.kind,
        ...(outcome.kind === 'failed' ? { code: outcome.code } : {}),
        durationMs: Math.round(this.#scope.elapsed()),
      },
      `call ended: ${outcome.reason}`,
    );
  }

  get callerTurns(): number {
    return this.#callerTurns;
  }

  /** CallControl: a filler while a tool runs, only into silence. */
  sayWhileWaiting(text: string): void {
    if (this.#state !== 'active' || this.#finish) return;
    if (this.#o.model.responding || this.#input.speaking || !this.#speech.silent) return;
    this.#o.model.respond(
      `A tool you called is still working. Say exactly this to the caller, and nothing else: "${text}"`,
    );
  }

  /** CallControl: a message for the business, kept in the call's record (its event). */
  takeMessage(message: { name: string; phone: string; message: string }): void {
    this.#scope.emit({ type: 'message_taken', ...message });
  }

  /** CallControl: keypad tones to the line, after what is already queued. */
  playTones(audio: Buffer): void {
    if (this.#state === 'ended') return;
    this.#speech.playTones(audio);
  }

  /**
   * An outbound call's answering-machine detection: for a machine (its greeting has ended), the
   * agent stops whatever it was saying and leaves `voicemail`, then hangs up once it has played;
   * with no voicemail, or for a fax, the call ends at once. A person changes nothing.
   */
  answeredBy(by: 'human' | 'machine' | 'fax' | 'unknown', voicemail: string | undefined): void {
    this.#scope.guard('the answering-machine detection', () => {
      if (this.#state === 'ended') return;
      this.#scope.emit({ type: 'answered_by', by });
      if ((by !== 'machine' && by !== 'fax') || this.#finish) return;
      if (by === 'fax' || !voicemail) {
        this.end({ kind: 'completed', reason: `answered by a ${by}: hung up` });
        return;
      }
      this.#log.info('an answering machine answered: leaving the voicemail message');
      this.#speech.cut();
      this.#enter('finishing');
      const request = this.#o.model.respond(
        `An answering machine took the call and is recording now. Leave this message, saying exactly this and nothing else: "${voicemail}"`,
      );
      this.#finish = PendingFinish.afterRequest(
        {
          outcome: { kind: 'completed', reason: 'left a voicemail message on an answering machine' },
          farewell: '',
        },
        request,
      );
      this.#scope.timer('the voicemail timer', FINISH_SPEECH_TIMEOUT_MS * 2, () => this.#completeFinish());
    });
  }

  /** CallControl: end or transfer once the agent's current speech has been heard. */
  finishAfterSpeech(request: FinishRequest): void {
    if (this.#state === 'finishing' || this.#state === 'ended') return;
    this.#enter('finishing');
    // built-ins run inside a tool batch, so #afterToolOutputs follows and asks for a farewell if owed
    this.#finish = new PendingFinish(request, {
      responseRunning: this.#o.model.responding,
      agentSilent: this.#speech.silent,
    });
    this.#scope.timer('the goodbye timer', FINISH_SPEECH_TIMEOUT_MS, () => this.#completeFinish());
  }

  #enter(state: CallState): void {
    if (state === this.#state) return;
    this.#log.debug({ from: this.#state, to: state }, 'call state');
    this.#state = state;
    this.#scope.emit({ type: 'state', state });
  }

  /** Agent speech events, plus the latency of the answer they start. */
  #onSpeechEvent(event: CallEventBody): void {
    this.#scope.emit(event);
    if (event.type !== 'agent_speech_started') return;
    const now = this.#now();
    if (this.#state === 'greeting') {
      this.#scope.emit({ type: 'latency', kind: 'greeting', ms: Math.round(now - this.#scope.startedAt) });
    } else if (this.#turnEndedAt !== undefined) {
      this.#scope.emit({ type: 'latency', kind: 'turn', ms: Math.round(now - this.#turnEndedAt) });
    }
    this.#turnEndedAt = undefined;
  }

  #crash(what: string, error: unknown): void {
    const message = errorMessage(error);
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

  /** Re-arms one timer (never more than one handle, however long the call). */
  #scheduleIdleCheck(limitMs: number): void {
    this.#scope.timer('the idle timer', Math.max(250, limitMs / 4), () => {
      const idleFor = this.#now() - Math.max(this.#lastActivityAt, this.#speech.lastAudioAt);
      if (idleFor >= limitMs && this.#speech.silent && !this.#input.speaking) {
        this.end({ kind: 'completed', reason: `no one spoke for ${Math.round(idleFor / 1000)} s` });
      } else {
        this.#scheduleIdleCheck(limitMs);
      }
    });
  }

  #onDigit(digit: string): void {
    this.#lastActivityAt = this.#now();
    // a key press is the caller's answer too (e.g. "press 1 to confirm")
    this.#callerTurns++;
    this.#log.info(
      { digit: this.#o.behaviour.logTranscripts ? digit : '[redacted]' },
      'caller pressed a key',
    );
    this.#o.model.addCallerText(`[The caller pressed the keypad key "${digit}"]`);
    this.#o.model.respond();
  }

  readonly #onModelEvent = (event: ModelEvent): void => {
    if (this.#state === 'ended') return;
    switch (event.type) {
      case 'audio':
        this.#speech.audio(event); // activity: its time is the speech's lastAudioAt
        return;
      case 'ready':
        this.#greet();
        return;
      case 'speech_started':
        if (this.#state === 'greeting') this.#enter('active');
        this.#scope.emit({
          type: 'caller_speech_started',
          ...(event.lagMs === undefined ? {} : { detectedAfterMs: event.lagMs }),
        });
        this.#lastActivityAt = this.#now();
        this.#input.speechStarted();
        this.#turnEndedAt = undefined;
        this.#bargeIn(event.lagMs);
        return;
      case 'speech_stopped':
        this.#scope.emit({ type: 'caller_speech_stopped' });
        this.#lastActivityAt = this.#now();
        this.#turnEndedAt = this.#input.lastFrameAt ?? this.#now();
        this.#input.speechStopped();
        return;
      case 'turn_committed':
        this.#callerTurns++;
        if (!event.answered) this.#o.model.respond();
        return;
      case 'response_started':
        this.#speech.responseStarted(event.responseId);
        return;
      case 'audio_done':
        this.#speech.audioDone(event.responseId);
        return;
      case 'tool_call':
        this.#functionCalls.itemDone(event.responseId, event.call);
        return;
      case 'tool_batch_done':
        this.#functionCalls.responseDone(event.batchId, event.toolCalls);
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
        this.#scope.emit({
          type: 'transcript',
          role: event.role,
          text: event.text,
          ...(event.role === 'agent' ? { itemId: event.itemId } : {}),
        });
        return;
      case 'warning':
        this.#log.warn(event.message);
        this.#scope.emit({ type: 'warning', message: event.message });
        return;
      case 'resumed':
        this.#speech.modelReplaced();
        this.#scope.emit({ type: 'model_resumed', reason: event.reason, gapMs: event.gapMs });
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
  };

  #onResponseDone(event: Extract<ModelEvent, { type: 'response_done' }>): void {
    this.#speech.responseDone(event.responseId);
    if (event.usage) this.#scope.emit({ type: 'usage', usage: event.usage });
    this.#finish?.responseDone(this.#speech.responseHadAudio, event.requestId);
    if (this.#state === 'greeting' && event.requestId === this.#greetingRequest) this.#enter('active');
    if (event.failure) this.#responseFailed(event.responseId, event.failure);
    this.#functionCalls.responseDone(event.responseId, event.toolCalls);
    if (this.#finish) this.#speech.flush();
    this.#maybeFinish();
  }

  /**
   * A response the service failed (a rate limit, a quota, a server error; often with no error event,
   * W8): said in the call's record, and asked for again after a pause, at most
   * {@link MAX_FAILED_RESPONSE_RETRIES} times a call, so the caller is not left in silence.
   */
  #responseFailed(responseId: string, failure: string): void {
    this.#log.warn({ responseId }, `the model's response failed: ${failure}`);
    this.#scope.emit({ type: 'warning', message: `the model's response failed: ${failure}` });
    if (this.#failedRetries >= MAX_FAILED_RESPONSE_RETRIES) return;
    this.#failedRetries++;
    this.#scope.timer('the retry of a failed response', RETRY_FAILED_RESPONSE_AFTER_MS, () => {
      // the caller spoke or something else answered meanwhile: that answer replaces the retry
      if (this.#state === 'ended' || this.#o.model.responding || this.#input.speaking) return;
      this.#o.model.respond();
    });
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
    if (this.#finish?.speechDone && this.#speech.silent) {
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
      .then(() => this.#scope.guard('the end of a finished call', () => this.end(finish.outcome)));
  }

  #onModelClosed(closed: Extract<ModelEvent, { type: 'closed' }>): void {
    if (closed.expected || this.#state === 'ended') return;
    const outcome = outcomeOfModelClose(closed);
    if (outcome.kind === 'failed')
      this.#log.error(
        { reason: closed.message, code: closed.code },
        'lost the model session; ending the stream',
      );
    this.end(outcome);
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

  /** Caller speech: cut the agent off when barge-in is on (see {@link AgentSpeech.bargeIn}). */
  #bargeIn(lagMs: number | undefined): void {
    const cuts = this.#speech.bargeIn(lagMs);
    if (cuts.length > 0)
      this.#log.info(
        { itemId: cuts[0]!.itemId, heardMs: cuts[0]!.audioEndMs },
        'caller interrupted the agent',
      );
  }
}

/** A tap whose agent-side times are monotonic clock readings, moved onto the call's timeline. */
function callTimeline(tap: CallAudioTap, startedAt: number, now: () => number): CallAudioTap {
  return {
    // Twilio's timestamp places the frame, but never beyond the call's real length: one frame stamped
    // hours ahead must not make the recording hours long (reliability test 1b)
    caller: (payload, timestampMs) =>
      tap.caller(payload, Math.min(timestampMs, now() - startedAt + CALLER_TIMESTAMP_SLACK_MS)),
    agent: (payload, at) => tap.agent(payload, at - startedAt),
    cleared: (at) => tap.cleared(at - startedAt),
  };
}
