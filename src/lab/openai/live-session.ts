import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { MULAW_BYTES_PER_MS, mulawTone } from '../../audio/mulaw.js';
import { SpeechDetector } from '../../audio/speech-detector.js';
import { synthVoice } from '../../audio/synth-voice.js';
import type { Plan } from './brain.js';
import {
  checkAppend,
  checkSessionStart,
  checkSessionUpdate,
  LIVE_CLIENT_EVENTS,
  type LiveProblem,
} from './live-rules.js';
import { id, type SessionOptions } from './session.js';

/**
 * Model-controlled barge-in, as GPT-Live does it: the stand-in stops talking only when the caller has
 * spoken over it this long; a shorter sound (a backchannel, a cough) is not a turn and it goes on.
 */
const YIELD_AFTER_MS = 400;

/**
 * One GPT-Live session of the local stand-in (`/v1/live/sessions`): `session.start` first and
 * strictly checked (live-rules.ts), μ-law in and out, no response lifecycle — it speaks when its
 * {@link Brain} says so (after a caller turn it finds by energy, or an appended instruction with a
 * quoted text), stops talking shortly after the caller starts, and delegates tool calls through the
 * Responses delegation events, waiting for every output and a `response.create` before it goes on.
 */
export class LocalLiveSession {
  readonly received: Record<string, unknown>[] = [];
  readonly errors: LiveProblem[] = [];
  /** What it said, and whether the caller cut it short. */
  readonly spoken: { say: string; cut: boolean }[] = [];
  #stalled = false;
  /** The event_id of the client command being handled (errors and acknowledgements name it). */
  #clientEventId: string | undefined;
  /** Times an appended instruction cut its speech. */
  interruptedByAppend = 0;
  /** The caller started talking over it, until they stop. */
  #overAgent = false;
  readonly headers: IncomingMessage['headers'];
  callerTurns = 0;
  appendedBytes = 0;
  /** The session object of `session.start`, once accepted. */
  config: Record<string, unknown> | undefined;

  readonly #ws: WebSocket;
  readonly #options: SessionOptions;
  readonly #detector: SpeechDetector;
  readonly #startedAt = Date.now();
  #pendingCalls = new Map<string, string>();
  #outputs: { callId: string; name: string; output: string }[] = [];
  #speaking: { timer: NodeJS.Timeout; record: { say: string; cut: boolean } } | undefined;
  readonly #queue: string[] = [];

  constructor(ws: WebSocket, req: IncomingMessage, options: SessionOptions) {
    this.#ws = ws;
    this.headers = req.headers;
    this.#options = options;
    this.#detector = new SpeechDetector({ threshold: options.vadRmsThreshold, startMs: 40, stopMs: 500 });
    ws.on('message', (data) => this.#onMessage(data.toString()));
    ws.on('close', () => this.#speaking && clearInterval(this.#speaking.timer));
  }

  /** The connection stalls without closing (a half-open TCP connection): nothing is read or sent. */
  stall(): void {
    this.#stalled = true;
    (this.#ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  /** The connection drops without a close (a network failure). */
  drop(): void {
    this.#ws.terminate();
  }

  /** Client events of one type, in order. */
  sent(type: string): Record<string, unknown>[] {
    return this.received.filter((e) => e.type === type);
  }

  get delegation(): string {
    const d = this.config?.delegation as { type?: string } | null | undefined;
    return d?.type ?? 'client';
  }

  #onMessage(text: string): void {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return this.#error({ code: 'invalid_json', message: 'The message is not valid JSON.' });
    }
    this.received.push(event);
    this.#clientEventId = typeof event.event_id === 'string' ? event.event_id : undefined;
    const type = String(event.type);
    if (!LIVE_CLIENT_EVENTS.has(type))
      return this.#error({ code: 'invalid_value', message: `Invalid event type: '${type}'.`, param: 'type' });
    if (!this.config) {
      if (type !== 'session.start')
        return this.#fatal({
          code: 'session_not_started',
          message: 'The first message must be session.start.',
        });
      return this.#start(event);
    }
    switch (type) {
      case 'session.start':
        return this.#error({ code: 'session_already_started', message: 'The session has already started.' });
      case 'session.input_audio.append':
        return this.#append(event);
      case 'session.instructions.append':
      case 'session.thinking.append':
      case 'session.commentary.append':
        return this.#appendContext(type, event);
      case 'session.update':
        return this.#update(event);
      case 'response.item.create':
        return this.#itemCreate(event);
      case 'response.create':
        return this.#responseCreate();
      case 'session.input_audio.mute':
      case 'session.input_audio.unmute':
        // acknowledged as the service does (S10): …muted / …unmuted
        return this.#emit({ type: `${type}d`, ...this.#answering() });
      case 'session.output_audio.fixture.play':
        return this.#playFixture(event);
      case 'session.close':
        this.#emit({
          type: 'session.closed',
          reason: 'close_requested',
          session: { ...this.config, status: 'closed' },
          usage: { seconds: Math.round((Date.now() - this.#startedAt) / 1000) },
        });
        this.#ws.close(1000);
        return;
      default:
        return;
    }
  }

  /** `session.start`, checked as Live checks it; then the duration limit and (optionally) idle silence. */
  #start(event: Record<string, unknown>): void {
    const problem = checkSessionStart(event.session);
    if (problem) return this.#fatal(problem);
    this.config = event.session as Record<string, unknown>;
    const lifeS = this.#options.liveExpiresInS;
    this.#emit({
      type: 'session.started',
      session: { ...this.config, id: id('live'), status: 'active', expires_at: Date.now() / 1000 + lifeS },
    });
    // the duration limit: the service closes the session (reason `expired`)
    const expiry = setTimeout(() => {
      this.#emit({
        type: 'session.closed',
        reason: 'expired',
        session: { ...this.config, status: 'closed' },
        usage: { seconds: lifeS },
      });
      this.#ws.close(1000);
    }, lifeS * 1000);
    expiry.unref();
    const silence = Buffer.alloc(this.#options.deltaMs * MULAW_BYTES_PER_MS, 0xff).toString('base64');
    const idle = this.#options.liveIdleSilence
      ? setInterval(
          () => this.#speaking || this.#emit({ type: 'session.output_audio.delta', delta: silence }),
          this.#options.deltaIntervalMs,
        )
      : undefined;
    this.#ws.once('close', () => {
      clearTimeout(expiry);
      clearInterval(idle);
    });
  }

  /** Instructions, thinking or commentary appended: acknowledged; an instruction may interrupt or be spoken. */
  #appendContext(type: string, event: Record<string, unknown>): void {
    const problem = checkAppend(event);
    if (problem) return this.#error(problem);
    const elapsed = Date.now() - this.#startedAt;
    this.#emit({ type: `${type.slice(0, -'.append'.length)}.appended`, start_ms: elapsed, end_ms: elapsed });
    if (type !== 'session.instructions.append') return;
    // "an appended instruction can interrupt the model's current speech" (the delegation guide)
    if (this.#speaking) {
      this.#stopSpeaking();
      this.interruptedByAppend++;
    }
    // an instruction with exact words (a greeting, a goodbye) is spoken; other context is taken in
    const content = String(event.content);
    if (/"[^"]+"/.test(content) || /goodbye|transferring/i.test(content))
      this.#plan(
        this.#options.brain({
          trigger: 'create',
          instructions: content,
          callerTurns: this.callerTurns,
          toolOutputs: [],
          session: this,
        }),
      );
  }

  /** `session.update`: only the delegation's responses settings may change. */
  #update(event: Record<string, unknown>): void {
    const problem = checkSessionUpdate(this.delegation, event.session);
    if (problem) return this.#error(problem);
    const update = event.session as { delegation?: { responses?: Record<string, unknown> } };
    const current = this.config?.delegation as { responses?: Record<string, unknown> } | undefined;
    if (update.delegation?.responses && current?.responses)
      Object.assign(current.responses, update.delegation.responses);
    this.#emit({ type: 'session.updated', session: this.config });
  }

  #playFixture(event: Record<string, unknown>): void {
    if (typeof event.audio !== 'string' || !event.audio)
      return this.#error({ code: 'missing_required_parameter', message: "Missing 'audio'.", param: 'audio' });
    const elapsed = Date.now() - this.#startedAt;
    this.#emit({ type: 'session.output_audio.fixture.playing', start_ms: elapsed, ...this.#answering() });
    this.#emit({ type: 'session.output_audio.fixture.played', end_ms: elapsed, ...this.#answering() });
  }

  #append(event: Record<string, unknown>): void {
    const audio = event.audio;
    if (typeof audio !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(audio))
      return this.#error({
        code: 'invalid_value',
        message: "Invalid 'audio'. Expected base64-encoded audio.",
        param: 'audio',
      });
    this.appendedBytes += Buffer.byteLength(audio, 'base64');
    const change = this.#detector.frame(audio);
    if (change === 'started' && this.#speaking) this.#overAgent = true;
    if (this.#overAgent && this.#speaking && this.#detector.loudMs >= YIELD_AFTER_MS) this.#stopSpeaking();
    if (change !== 'stopped') return;
    const over = this.#overAgent;
    this.#overAgent = false;
    // a short sound over the agent that it talked through: not a caller turn
    if (over && this.#speaking) return;
    this.callerTurns++;
    const transcript =
      this.#options.callerTranscripts[this.callerTurns - 1] ?? `caller turn ${this.callerTurns}`;
    const elapsed = Date.now() - this.#startedAt;
    this.#emit({
      type: 'session.input_transcript.delta',
      delta: transcript,
      start_ms: elapsed,
      end_ms: elapsed,
    });
    this.#plan(
      this.#options.brain({
        trigger: 'turn',
        instructions: undefined,
        callerTurns: this.callerTurns,
        toolOutputs: [],
        session: this,
      }),
    );
  }

  /** `client_event_id` for an acknowledgement, when the command carried an event_id. */
  #answering(): { client_event_id?: string } {
    return this.#clientEventId ? { client_event_id: this.#clientEventId } : {};
  }

  /** Stops talking: the rest of what it was saying is dropped. */
  #stopSpeaking(): void {
    const speaking = this.#speaking;
    if (!speaking) return;
    clearInterval(speaking.timer);
    speaking.record.cut = true;
    this.#speaking = undefined;
    this.#queue.length = 0;
  }

  #itemCreate(event: Record<string, unknown>): void {
    if (this.delegation !== 'responses')
      return this.#error({
        code: 'invalid_request',
        message: 'response.item.create requires Responses delegation.',
      });
    const item = event.item as { type?: string; call_id?: string; output?: unknown } | undefined;
    if (item?.type !== 'function_call_output' || typeof item.output !== 'string')
      return this.#error({
        code: 'invalid_value',
        message: "Invalid 'item': expected a function_call_output with a string output.",
        param: 'item',
      });
    const name = this.#pendingCalls.get(String(item.call_id));
    if (!name)
      return this.#error({
        code: 'invalid_value',
        message: `No function call with call_id '${item.call_id}'.`,
        param: 'item.call_id',
      });
    this.#pendingCalls.delete(String(item.call_id));
    this.#outputs.push({ callId: String(item.call_id), name, output: item.output });
  }

  #responseCreate(): void {
    if (this.delegation !== 'responses')
      return this.#error({
        code: 'invalid_request',
        message: 'response.create requires Responses delegation.',
      });
    if (this.#pendingCalls.size > 0)
      return this.#error({
        code: 'incomplete_tool_outputs',
        message: `Every function call needs an output before response.create; missing: ${[...this.#pendingCalls.keys()].join(', ')}.`,
      });
    const toolOutputs = this.#outputs;
    this.#outputs = [];
    this.#plan(
      this.#options.brain({
        trigger: 'create',
        instructions: undefined,
        callerTurns: this.callerTurns,
        toolOutputs,
        session: this,
      }),
    );
  }

  #plan(plan: Plan): void {
    if (plan.say) this.#say(plan.say);
    if (!('call' in plan) || this.delegation !== 'responses') return;
    const delegationId = id('item');
    const responseId = id('resp');
    const wrap = (event: Record<string, unknown>) =>
      this.#emit({ type: 'response.event', event_id: id('event'), delegation_id: delegationId, event });
    this.#emit({
      type: 'session.delegation.created',
      offset_ms: Date.now() - this.#startedAt,
      delegation: { id: delegationId, type: 'delegation', target: 'responses', response_id: responseId },
    });
    wrap({ type: 'response.created', response: { id: responseId, status: 'in_progress', output: [] } });
    plan.call.forEach((call, i) => {
      const callId = id('call');
      this.#pendingCalls.set(callId, call.name);
      wrap({
        type: 'response.output_item.done',
        output_index: i,
        item: {
          id: id('fc'),
          type: 'function_call',
          status: 'completed',
          call_id: callId,
          name: call.name,
          arguments: JSON.stringify(call.arguments),
        },
      });
    });
    wrap({ type: 'response.completed', response: { id: responseId, status: 'completed', output: [] } });
  }

  /** Speaks: μ-law deltas (no timing on the primary socket), its words as a transcript fragment. */
  #say(text: string): void {
    if (this.#speaking) {
      this.#queue.push(text);
      return;
    }
    const record = { say: text, cut: false };
    this.spoken.push(record);
    const ms = Math.ceil(Math.max(400, text.length * this.#options.msPerChar) / 10) * 10;
    const audio =
      this.#options.voice === 'synthetic'
        ? synthVoice(ms, this.spoken.length)
        : mulawTone(ms, 300 + (this.spoken.length % 5) * 50);
    const elapsed = Date.now() - this.#startedAt;
    this.#emit({
      type: 'session.output_transcript.delta',
      delta: `${text} `, // fragments concatenate as they come; this one ends a sentence
      start_ms: elapsed,
      end_ms: elapsed + ms,
    });
    const step = this.#options.deltaMs * MULAW_BYTES_PER_MS;
    let offset = 0;
    const timer = setInterval(() => {
      if (offset < audio.length) {
        this.#emit({
          type: 'session.output_audio.delta',
          delta: audio.subarray(offset, offset + step).toString('base64'),
        });
        offset += step;
        return;
      }
      clearInterval(timer);
      this.#speaking = undefined;
      const next = this.#queue.shift();
      if (next) this.#say(next);
    }, this.#options.deltaIntervalMs);
    this.#speaking = { timer, record };
  }

  #error(problem: LiveProblem): void {
    this.errors.push(problem);
    this.#emit({
      type: 'error',
      event_id: id('event'),
      error: {
        type: 'invalid_request_error',
        code: problem.code,
        message: problem.message,
        ...(problem.param ? { param: problem.param } : {}),
        // which command it refuses, when the client tagged it (W11)
        ...(this.#clientEventId ? { client_event_id: this.#clientEventId } : {}),
      },
    });
  }

  /** A start that fails: the error, and no session (the socket closes). */
  #fatal(problem: LiveProblem): void {
    this.#error(problem);
    this.#ws.close(1008, problem.code);
  }

  /** Every server event has an event_id (the SDK marks it required, S10). */
  #emit(event: Record<string, unknown>): void {
    if (this.#ws.readyState !== WebSocket.OPEN || this.#stalled) return;
    this.#ws.send(JSON.stringify(event.event_id ? event : { ...event, event_id: id('event') }));
  }
}
