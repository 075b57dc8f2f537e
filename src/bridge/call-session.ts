import type { Logger } from '../observability/logger.js';
import { redactText } from '../observability/logger.js';
import type { RealtimeClosed, RealtimeConnection } from '../realtime/openai/connection.js';
import type { ServerEvent } from '../realtime/openai/events.js';
import type { TwilioInbound } from '../telephony/twilio/media-messages.js';
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
  greeting?: string;
  /** Mirrors turn_detection.interrupt_response: when false we cancel responses ourselves. */
  interruptResponse: boolean;
  maxDurationS: number;
  idleTimeoutS?: number;
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

/**
 * One phone call: Twilio Media Stream ⇄ OpenAI Realtime. All per-call state lives here (house rule 3);
 * N calls are N independent objects. Status changes only in {@link CallSession.end}.
 */
export class CallSession implements CallControl {
  readonly callSid: string;
  readonly streamSid: string;
  readonly transcript: TranscriptEntry[] = [];
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
  /** Items cut off by a barge-in (with what was heard): their late deltas are dropped. */
  readonly #interrupted = new Map<string, number>();
  /** Agent transcript entries by item, to mark them when the caller cuts in after they arrived. */
  readonly #agentLines = new Map<string, TranscriptEntry>();
  #status: 'active' | 'ended' = 'active';
  #outcome: CallOutcome | undefined;
  readonly #input: CallerInput;
  #greeted = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #lastActivityAt: number;
  /** A built-in tool asked to end or transfer the call once the current speech has been heard. */
  #finish: PendingFinish | undefined;
  #finishing = false;
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
    this.#input = new CallerInput(options.realtime);
    this.#responses = new ResponseSequencer((event) => options.realtime.send(event));
    this.#functionCalls = new FunctionCallLoop({
      tools: options.tools ?? NO_TOOLS,
      send: (event) => options.realtime.send(event),
      outputsSent: () => this.#afterToolOutputs(),
      signal: this.#abort.signal,
      now: () => this.#elapsed(),
      onRecord: (record) => this.#recordToolCall(record),
    });
    const { maxDurationS, idleTimeoutS } = options.behaviour;
    this.#timer(maxDurationS * 1000, () =>
      this.end({ kind: 'completed', reason: 'maximum call duration reached' }),
    );
    if (idleTimeoutS) this.#scheduleIdleCheck(idleTimeoutS * 1000);
    options.realtime.attach({
      onEvent: (event) => this.#onRealtimeEvent(event),
      onClose: (closed) => this.#onRealtimeClosed(closed),
    });
  }

  get status(): 'active' | 'ended' {
    return this.#status;
  }

  get outcome(): CallOutcome | undefined {
    return this.#outcome;
  }

  /** A parsed Twilio message for this stream. */
  handleTwilio(message: TwilioInbound): void {
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
        this.end({ kind: 'completed', reason: 'Twilio stopped the stream (call ended)' });
        return;
      default:
        this.fail(`unexpected ${message.event} message after start`);
    }
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
    this.#o.realtime.close();
    this.#o.media.close();
    const log = outcome.kind === 'failed' ? this.#log.warn.bind(this.#log) : this.#log.info.bind(this.#log);
    log({ outcome: outcome.kind, durationMs: Math.round(this.#elapsed()) }, `call ended: ${outcome.reason}`);
    this.#o.onEnded(outcome, this);
  }

  #elapsed(): number {
    return this.#now() - this.#startedAt;
  }

  #timer(ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    t.unref();
    this.#timers.push(t);
  }

  /** Re-arms one timer (never more than one handle, however long the call). */
  #scheduleIdleCheck(limitMs: number): void {
    this.#idleTimer = setTimeout(
      () => {
        const idleFor = this.#now() - this.#lastActivityAt;
        if (idleFor >= limitMs && !this.#playback.playing && !this.#input.speaking) {
          this.end({ kind: 'completed', reason: `no one spoke for ${Math.round(idleFor / 1000)} s` });
        } else {
          this.#scheduleIdleCheck(limitMs);
        }
      },
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
        if (this.#interrupted.has(event.itemId)) return;
        this.#lastActivityAt = this.#now();
        this.#responseHadAudio = true;
        this.#outbound.delta(event.itemId, event.contentIndex, event.delta);
        return;
      case 'session.updated':
        this.#greet();
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
      case 'response.created':
        this.#responses.created();
        this.#responseHadAudio = false;
        return;
      case 'response.output_audio.done':
        this.#outbound.flush();
        return;
      case 'response.output_item.done':
        if (event.item.type === 'function_call' && 'callId' in event.item) {
          this.#functionCalls.itemDone(event.responseId, event.item);
        }
        return;
      case 'response.done':
        this.#onResponseDone(event);
        return;
      case 'response.output_audio_transcript.done': {
        const entry = this.#addTranscript('agent', event.transcript, this.#interrupted.get(event.itemId));
        if (entry) this.#agentLines.set(event.itemId, entry);
        return;
      }
      case 'conversation.item.input_audio_transcription.completed':
        this.#addTranscript('caller', event.transcript);
        return;
      case 'error':
        this.#onRealtimeError(event);
        return;
      default:
        return;
    }
  }

  #onResponseDone(event: Extract<ServerEvent, { type: 'response.done' }>): void {
    this.#responses.done();
    this.#finish?.responseDone(this.#responseHadAudio);
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
   * A response's tool outputs are all sent. Normally one `response.create` lets the model use them;
   * not while the caller is talking (VAD makes that turn) or another response runs, and not when the
   * call is finishing — then only the farewell, if one is still owed.
   */
  #afterToolOutputs(): void {
    if (this.#finish) {
      const farewell = this.#finish.takeFarewell();
      if (farewell) this.#responses.request({ instructions: farewell });
      return;
    }
    if (!this.#input.speaking && !this.#responses.active) this.#responses.request();
  }

  /** CallControl: end or transfer once the agent's current speech has been heard. */
  finishAfterSpeech(request: FinishRequest): void {
    if (this.#finish || this.#status !== 'active') return;
    // built-ins run inside a tool batch, so #afterToolOutputs follows and asks for a farewell if owed
    this.#finish = new PendingFinish(request, {
      responseRunning: this.#responses.running,
      agentSilent: !this.#playback.playing && !this.#outbound.buffering,
    });
    this.#timer(FINISH_SPEECH_TIMEOUT_MS, () => this.#completeFinish());
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
    before().then(
      () => this.end(finish.outcome),
      (error: Error) => {
        this.#log.warn(
          { reason: error.message },
          'could not redirect the call over REST; using the stream action instead',
        );
        this.end(finish.outcome);
      },
    );
  }

  #onRealtimeError(event: Extract<ServerEvent, { type: 'error' }>): void {
    if (event.code === 'conversation_already_has_active_response') {
      this.#responses.rejectedAsBusy();
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
    this.#log.error({ reason: closed.message }, 'lost the OpenAI Realtime session; ending the stream');
    this.end({ kind: 'failed', reason: closed.message });
  }

  #greet(): void {
    if (this.#greeted) return;
    this.#greeted = true;
    const { greeting } = this.#o.behaviour;
    if (!greeting) return;
    this.#responses.request({
      instructions: `Greet the caller by saying exactly this, then wait for their answer: "${greeting}"`,
    });
  }

  /** Caller speech while the agent is talking: stop the audio now, and cut the item where it was heard. */
  #bargeIn(): void {
    if (!this.#playback.playing && !this.#outbound.buffering) return;
    this.#o.media.sendClear();
    this.#outbound.drop();
    const cut = this.#playback.interrupt(this.#now());
    if (cut) {
      this.#interrupted.set(cut.itemId, cut.audioEndMs);
      const line = this.#agentLines.get(cut.itemId);
      if (line) Object.assign(line, { interrupted: true, heardMs: cut.audioEndMs });
      if (cut.audioEndMs > 0 && !cut.fullyPlayed) {
        this.#o.realtime.send({
          type: 'conversation.item.truncate',
          item_id: cut.itemId,
          content_index: cut.contentIndex,
          audio_end_ms: cut.audioEndMs,
        });
      }
      this.#log.info({ itemId: cut.itemId, heardMs: cut.audioEndMs }, 'caller interrupted the agent');
    }
    // with interrupt_response off the server keeps talking unless told; a running response that
    // produced no audio (e.g. only function calls) has nothing to stop
    if (!this.#o.behaviour.interruptResponse && this.#responses.running && this.#responseHadAudio) {
      this.#o.realtime.send({ type: 'response.cancel' });
    }
  }

  #addTranscript(role: 'caller' | 'agent', text: string, heardMs?: number): TranscriptEntry | undefined {
    if (!text) return undefined;
    const entry: TranscriptEntry = { role, text, atMs: Math.round(this.#elapsed()) };
    if (heardMs !== undefined) Object.assign(entry, { interrupted: true, heardMs });
    this.transcript.push(entry);
    this.#log.info(
      { role, text: redactText(text, this.#o.behaviour.logTranscripts) },
      role === 'caller' ? 'caller said' : 'agent said',
    );
    return entry;
  }

  #recordToolCall(record: ToolCallRecord): void {
    this.toolCalls.push(record);
  }
}
