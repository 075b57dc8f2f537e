import type { Logger } from '../observability/logger.js';
import type { RealtimeClosed, RealtimeConnection } from '../realtime/openai/connection.js';
import type { ServerEvent } from '../realtime/openai/events.js';
import { SESSION_CONFIG_EVENT_ID } from '../realtime/openai/session-config.js';
import type { TwilioInbound } from '../telephony/twilio/media-messages.js';
import { forgetUnheard } from './barge-in.js';
import { CallTranscript } from './call-transcript.js';
import { CallerInput } from './caller-input.js';
import { FunctionCallLoop, NO_TOOLS } from './function-calls.js';
import { OutboundAudio } from './outbound-audio.js';
import { type FinishRequest, PendingFinish } from './pending-finish.js';
import { PlaybackTracker } from './playback.js';
import type {
  CallControl,
  CallOutcome,
  MediaStreamPort,
  ToolCallRecord,
  ToolExecutor,
  TranscriptEntry,
} from './ports.js';
import { ResponseSequencer } from './response-sequencer.js';

/** What a CallSession needs to know about the agent. */
export interface CallBehaviour {
  /** The agent's instructions: per-response instructions replace the session's, so they extend these. */
  instructions: string;
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
  realtime: RealtimeConnection;
  behaviour: CallBehaviour;
  logger: Logger;
  tools?: ToolExecutor;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
  onEnded(outcome: CallOutcome, session: CallSession): void;
}

/** The longest we wait for a goodbye to be heard before ending a call anyway. */
export const FINISH_SPEECH_TIMEOUT_MS = 20_000;
/** OpenAI ends a Realtime session after 60 minutes; a call ends cleanly this long before that. */
export const REALTIME_SESSION_LIMIT_MS = 60 * 60_000;
const SESSION_LIMIT_MARGIN_MS = 5_000;

/**
 * One phone call: Twilio Media Stream ⇄ OpenAI Realtime. All per-call state lives here (house rule 3);
 * N calls are N independent objects. Status changes only in {@link CallSession.end}.
 *
 * Fault boundary: every way into a call — a Twilio message, a Realtime event or close, a timer, a
 * tool's completion — runs through {@link CallSession.#guard}. A throw there ends this call with the
 * fallback and a logged reason; the process and every other call go on.
 */
export class CallSession implements CallControl {
  readonly callSid: string;
  readonly streamSid: string;
  /** What was said, in order (the live list; records will come from the call's event stream). */
  readonly transcript: TranscriptEntry[];
  readonly toolCalls: ToolCallRecord[] = [];

  readonly #o: CallSessionOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #playback = new PlaybackTracker();
  readonly #outbound: OutboundAudio;
  readonly #responses: ResponseSequencer;
  readonly #functionCalls: FunctionCallLoop;
  readonly #abort = new AbortController();
  readonly #timers: NodeJS.Timeout[] = [];
  /** Responses silenced by a barge-in: their late deltas are dropped. */
  readonly #silenced = new Set<string>();
  readonly #transcript: CallTranscript;
  #status: 'active' | 'ended' = 'active';
  #outcome: CallOutcome | undefined;
  readonly #input: CallerInput;
  /** The service confirmed our session configuration (`session.updated`). */
  #configured = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #lastActivityAt: number;
  /** A built-in tool asked to end or transfer the call once the current speech has been heard. */
  #finish: PendingFinish | undefined;
  #finishing = false;
  #runningResponse: string | undefined;
  #responseHadAudio = false;

  constructor(options: CallSessionOptions) {
    this.#o = options;
    this.callSid = options.callSid;
    this.streamSid = options.streamSid;
    this.#log = options.logger;
    this.#transcript = new CallTranscript(options.logger, options.behaviour.logTranscripts);
    this.transcript = this.#transcript.entries;
    this.#now = options.now ?? (() => performance.now());
    this.#startedAt = this.#now();
    this.#lastActivityAt = this.#startedAt;
    this.#outbound = new OutboundAudio(options.media, this.#playback, this.#now);
    this.#input = new CallerInput({
      sink: options.realtime,
      now: this.#now,
      guard: (what, fn) => this.#guard(what, fn),
    });
    this.#responses = new ResponseSequencer((event) => options.realtime.send(event));
    this.#functionCalls = new FunctionCallLoop({
      tools: options.tools ?? NO_TOOLS,
      send: (event) => options.realtime.send(event),
      outputsSent: () => this.#guard('the follow-up to tool outputs', () => this.#afterToolOutputs()),
      signal: this.#abort.signal,
      now: () => this.#elapsed(),
      onRecord: (record) => this.toolCalls.push(record),
      onFault: (what, error) => this.#crash(what, error),
    });
    const { maxDurationS, idleTimeoutS } = options.behaviour;
    const sessionLeftMs =
      REALTIME_SESSION_LIMIT_MS - (this.#now() - options.realtime.openedAt) - SESSION_LIMIT_MARGIN_MS;
    this.#timer('the call duration limit', Math.min(maxDurationS * 1000, sessionLeftMs), () =>
      this.end({
        kind: 'completed',
        reason:
          maxDurationS * 1000 <= sessionLeftMs
            ? 'maximum call duration reached'
            : 'the OpenAI Realtime session reached its 60-minute limit',
      }),
    );
    this.#scheduleIdleCheck(idleTimeoutS * 1000);
    options.realtime.attach({
      onEvent: (event) => this.#guard(`the Realtime event ${event.type}`, () => this.#onRealtimeEvent(event)),
      onClose: (closed) => this.#guard('the Realtime close', () => this.#onRealtimeClosed(closed)),
    });
  }

  get status(): 'active' | 'ended' {
    return this.#status;
  }

  get outcome(): CallOutcome | undefined {
    return this.#outcome;
  }

  /** A parsed Twilio message for this stream (`start` and `connected` are handled before). */
  handleTwilio(message: TwilioInbound): void {
    this.#guard(`the Twilio ${message.event} message`, () => {
      if (this.#status !== 'active') return;
      switch (message.event) {
        case 'media':
          this.#input.frame(message.payload, message.timestampMs);
          return;
        case 'mark':
          this.#playback.markEchoed(message.name, this.#now());
          if (this.#finish) this.#maybeFinish();
          return;
        case 'dtmf':
          this.#onDigit(message.digit);
          return;
        case 'stop':
          // a REST redirect (transfer) stops the stream, maybe before its REST answer reaches us
          this.end(
            this.#finishing && this.#finish
              ? this.#finish.request.outcome
              : { kind: 'completed', reason: 'Twilio stopped the stream (call ended)' },
          );
          return;
        default:
          return;
      }
    });
  }

  /** A protocol violation or transport failure on the Twilio side: end this call only. */
  fail(reason: string): void {
    this.end({ kind: 'failed', reason });
  }

  /** Idempotent teardown: stops timers and tools, closes both sockets, reports the outcome once. */
  end(outcome: CallOutcome): void {
    if (this.#status === 'ended') return;
    this.#status = 'ended';
    this.#outcome = outcome;
    for (const t of this.#timers) clearTimeout(t);
    clearTimeout(this.#idleTimer);
    this.#input.close();
    this.#abort.abort(new Error(outcome.reason));
    // each step on its own: a socket that throws while closing must not keep the other open
    this.#teardown('closing the Realtime socket', () => this.#o.realtime.close());
    this.#teardown('closing the Twilio stream', () => this.#o.media.close());
    const log = outcome.kind === 'failed' ? this.#log.warn.bind(this.#log) : this.#log.info.bind(this.#log);
    log({ outcome: outcome.kind, durationMs: Math.round(this.#elapsed()) }, `call ended: ${outcome.reason}`);
    this.#teardown('reporting the end of the call', () => this.#o.onEnded(outcome, this));
  }

  /** CallControl: end or transfer once the agent's current speech has been heard. */
  finishAfterSpeech(request: FinishRequest): void {
    if (this.#finish || this.#status !== 'active') return;
    // built-ins run inside a tool batch, so #afterToolOutputs follows and asks for a farewell if owed
    this.#finish = new PendingFinish(request, {
      responseRunning: this.#responses.running,
      agentSilent: !this.#playback.playing && !this.#outbound.buffering,
    });
    this.#timer('the goodbye timer', FINISH_SPEECH_TIMEOUT_MS, () => this.#completeFinish());
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
      this.end({ kind: 'failed', reason: `internal error while handling ${what}: ${message}` });
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
    this.#o.realtime.send({
      type: 'conversation.item.create',
      item: {
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text: `[The caller pressed the keypad key "${digit}"]` }],
      },
    });
    this.#responses.request();
  }

  #onRealtimeEvent(event: ServerEvent): void {
    if (this.#status !== 'active') return;
    switch (event.type) {
      case 'response.output_audio.delta':
        if (this.#silenced.has(event.responseId)) return;
        this.#lastActivityAt = this.#now();
        this.#responseHadAudio = true;
        this.#outbound.delta(event.responseId, event.itemId, event.contentIndex, event.delta);
        return;
      case 'session.updated':
        this.#onSessionUpdated(event);
        return;
      case 'input_audio_buffer.speech_started':
        this.#lastActivityAt = this.#now();
        this.#input.speechStarted();
        this.#bargeIn();
        return;
      case 'input_audio_buffer.speech_stopped':
        this.#lastActivityAt = this.#now();
        this.#input.speechStopped();
        return;
      case 'input_audio_buffer.committed':
        // the server answers a turn itself only when create_response is on and no response runs
        if (!this.#o.behaviour.createResponse || this.#responses.running) this.#responses.request();
        return;
      case 'response.created':
        this.#responses.created(event.requestId);
        this.#runningResponse = event.responseId;
        this.#responseHadAudio = false;
        return;
      case 'response.output_audio.done':
        if (!this.#silenced.has(event.responseId)) this.#outbound.flush();
        return;
      case 'response.output_item.done':
        if (event.item.type === 'function_call' && 'callId' in event.item) {
          this.#functionCalls.itemDone(event.responseId, event.item);
        }
        return;
      case 'response.done':
        this.#onResponseDone(event);
        return;
      case 'response.output_audio_transcript.done':
        this.#transcript.agent(event.itemId, event.transcript, Math.round(this.#elapsed()));
        return;
      case 'conversation.item.input_audio_transcription.completed':
        this.#transcript.caller(event.transcript, Math.round(this.#elapsed()));
        return;
      case 'error':
        this.#onRealtimeError(event);
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
        this.fail(
          `OpenAI configured ${side} audio as ${format}, not audio/pcmu: the caller would hear static`,
        );
        return;
      }
    }
    this.#configured = true;
    this.#greet();
  }

  #onResponseDone(event: Extract<ServerEvent, { type: 'response.done' }>): void {
    const served = this.#responses.done();
    this.#runningResponse = undefined;
    this.#finish?.responseDone(this.#responseHadAudio, served);
    if (event.status === 'failed') {
      this.#log.warn(
        { responseId: event.responseId },
        `OpenAI response failed: ${event.statusError ?? 'no reason'}`,
      );
    }
    this.#functionCalls.responseDone(event.responseId, event.functionCalls);
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
      this.#finish.askFarewell((farewell) => this.#respond(farewell));
      return;
    }
    if (!this.#input.speaking) this.#responses.request();
  }

  /** Requests a response whose instructions are the agent's plus `addendum` (never instead of them). */
  #respond(addendum: string): string {
    return this.#responses.request({ instructions: `${this.#o.behaviour.instructions}\n\n${addendum}` });
  }

  #maybeFinish(): void {
    if (this.#finish?.speechDone && !this.#playback.playing && !this.#outbound.buffering) {
      this.#completeFinish();
    }
  }

  #completeFinish(): void {
    const finish = this.#finish?.request;
    if (!finish || this.#finishing || this.#status !== 'active') return;
    this.#finishing = true;
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

  #onRealtimeError(event: Extract<ServerEvent, { type: 'error' }>): void {
    if (event.eventId === SESSION_CONFIG_EVENT_ID || !this.#configured) {
      // the service keeps its defaults (PCM 24 kHz, no tools): static on a μ-law line. Never run on them.
      this.fail(`OpenAI rejected the session configuration: ${event.message} (${event.code ?? 'no code'})`);
      return;
    }
    const busy = event.code === 'conversation_already_has_active_response';
    if (this.#responses.rejected(event.eventId, busy)) {
      if (!busy) this.#log.warn({ code: event.code }, `OpenAI refused a response: ${event.message}`);
      return;
    }
    if (event.code === 'response_cancel_not_active') {
      // the response finished while our cancel was on the wire: harmless, per the API docs
      this.#log.debug('response.cancel arrived after the response had finished');
      return;
    }
    // most Realtime errors are recoverable; fatal ones also close the socket (handled in onClose)
    this.#log.warn({ code: event.code }, `OpenAI reported an error: ${event.message}`);
  }

  #onRealtimeClosed(closed: RealtimeClosed): void {
    if (closed.expected || this.#status !== 'active') return;
    if (closed.sessionLimit) {
      this.end({ kind: 'completed', reason: closed.message });
      return;
    }
    this.#log.error({ reason: closed.message }, 'lost the OpenAI Realtime session; ending the stream');
    this.end({ kind: 'failed', reason: closed.message });
  }

  #greet(): void {
    const { greeting } = this.#o.behaviour;
    if (!greeting) return;
    this.#respond(
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
    for (const cut of cuts) {
      this.#silenced.add(cut.responseId);
      this.#transcript.interrupted(cut.itemId, cut.audioEndMs);
    }
    for (const event of forgetUnheard(cuts)) this.#o.realtime.send(event);
    if (cuts[0])
      this.#log.info({ itemId: cuts[0].itemId, heardMs: cuts[0].audioEndMs }, 'caller interrupted the agent');
  }
}
