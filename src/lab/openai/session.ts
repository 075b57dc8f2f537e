import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { FRAME_BYTES, MULAW_BYTES_PER_MS, mulawRms } from '../../audio/mulaw.js';
import type { Brain } from './brain.js';
import { id } from './ids.js';
import { type AudioItem, type ResponseHost, StandInResponse } from './response.js';
import { CLIENT_EVENT_TYPES, checkResponseFields, checkSessionUpdate } from './rules.js';
import { defaultSession, mergeSession } from './session-defaults.js';

export interface LocalRealtimeOptions {
  apiKey?: string;
  /** Answer the upgrade with this HTTP status instead of accepting it. */
  handshakeStatus?: number;
  /** Refuse only the first N upgrades with HTTP 429 (a passing rate limit), then accept. */
  refuseFirst?: number;
  brain?: Brain;
  /** Audio per delta (ms) and the wall time between deltas: 100 ms every 10 ms = 10× real time. */
  deltaMs?: number;
  deltaIntervalMs?: number;
  /** Audio per character of speech (ms); a reply of 40 characters lasts 2 s by default. */
  msPerChar?: number;
  /** Caller transcripts, in turn order ("caller turn N" when exhausted). */
  callerTranscripts?: string[];
  vadRmsThreshold?: number;
  /** How the model sounds: a steady tone (tests measure it exactly) or a voice-like `synthetic` sound. */
  voice?: 'tone' | 'synthetic';
  /** GPT-Live stand-in: stream silence frames whenever it is not speaking (as Live may). */
  liveIdleSilence?: boolean;
  /** GPT-Live stand-in: seconds until a session expires (`expires_at`; default one hour). */
  liveExpiresInS?: number;
  /** Realtime stand-in: seconds until a session expires (`expires_at`, then close 1001; default 60 min). */
  realtimeLifetimeS?: number;
  /** Keep every server event sent (`emitted`), for the schema check; off in simulations. */
  recordServerEvents?: boolean;
  /** `GET /v1/models/{id}`: shutdown dates that replace or add to the stand-in's catalogue. */
  modelShutdowns?: Record<string, string | null>;
  /** Called with every valid client event before the session handles it (to stage races). */
  onClientEvent?: (event: Record<string, unknown>, session: LocalRealtimeSession) => void;
}

export interface ProtocolError {
  code: string;
  message: string;
  eventType: string | undefined;
}

export type SessionOptions = Required<
  Omit<
    LocalRealtimeOptions,
    'apiKey' | 'handshakeStatus' | 'refuseFirst' | 'onClientEvent' | 'modelShutdowns'
  >
> &
  Pick<LocalRealtimeOptions, 'onClientEvent'>;

export { id };

/**
 * One Realtime session of the local stand-in: the GA wire format, strictly (see rules.ts), an energy
 * VAD over the appended μ-law, and responses planned by a {@link Brain}, streamed as audio deltas.
 */
export class LocalRealtimeSession {
  readonly received: Record<string, unknown>[] = [];
  readonly errors: ProtocolError[] = [];
  readonly truncations: { itemId: string; audioEndMs: number }[] = [];
  readonly deletions: string[] = [];
  readonly headers: IncomingMessage['headers'];
  readonly url: URL;
  /** Effective session config after session.update (undefined until the first one). */
  config: Record<string, unknown> | undefined;
  /** What `session.created` announced: the service's defaults, the model, `expires_at`. */
  readonly #defaults: Record<string, unknown>;
  /** Caller audio appended since the last commit or clear (ms). */
  #bufferMs = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #expiry: NodeJS.Timeout | undefined;
  /** Every conversation item as the client can retrieve it. */
  readonly #itemBodies = new Map<string, Record<string, unknown>>();
  appendedBytes = 0;
  callerTurns = 0;
  /** Every event it sent, when `recordServerEvents` is on (tests check them against the schema). */
  readonly emitted: Record<string, unknown>[] = [];
  /** Idle timeouts that fired (each committed empty audio and prompted a response). */
  idleTimeouts = 0;
  readonly responses: {
    id: string;
    status: string;
    say?: string;
    calls: string[];
    instructions?: string;
    metadata?: unknown;
  }[] = [];

  readonly #ws: WebSocket;
  readonly #options: SessionOptions;
  readonly #items = new Map<string, AudioItem>();
  readonly #functionCalls = new Map<string, string>();
  /** Every conversation item by id, with what it holds (only audio items can be truncated). */
  readonly #conversation = new Map<string, 'audio' | 'other'>();
  /** The voice is locked once the model has spoken ("Voice cannot be changed … once the model has responded with audio"). */
  #spokeAudio = false;
  #stalled = false;
  #pendingOutputs: { callId: string; name: string; output: string }[] = [];
  #active: StandInResponse | undefined;
  // energy VAD state
  #frame = Buffer.alloc(FRAME_BYTES);
  #frameFill = 0;
  #speaking = false;
  #voicedRun = 0;
  #silentMs = 0;
  #speechItem = '';
  /** Where the caller's current or last turn started, and how long it lasted (audio ms). */
  #turnStartMs = 0;
  #turnMs = 0;
  readonly #closed: Promise<void>;

  constructor(ws: WebSocket, req: IncomingMessage, options: SessionOptions) {
    this.#ws = ws;
    this.headers = req.headers;
    this.url = new URL(req.url ?? '/', 'http://local');
    this.#options = options;
    this.#closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data, isBinary) => this.#onMessage(data.toString(), isBinary));
    ws.on('close', () => {
      if (this.#active?.timer) clearInterval(this.#active.timer);
      clearTimeout(this.#idleTimer);
      clearTimeout(this.#expiry);
    });
    this.#defaults = defaultSession(
      this.url.searchParams.get('model') ?? 'gpt-realtime-2.1',
      options.realtimeLifetimeS,
    );
    this.#emit({ type: 'session.created', session: this.#defaults });
    // the service's session limit (S12): at expires_at the socket closes with 1001
    this.#expiry = setTimeout(
      () => this.close(1001, 'Your session hit the maximum duration of 60 minutes.'),
      options.realtimeLifetimeS * 1000,
    );
    this.#expiry.unref();
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  get responseActive(): boolean {
    return this.#active !== undefined;
  }

  /** Resolves when the client or the server closed the socket. */
  closed(): Promise<void> {
    return this.#closed;
  }

  /** Client events of one type, in order. */
  sent(type: string): Record<string, unknown>[] {
    return this.received.filter((e) => e.type === type);
  }

  /** A fatal error as the service sends it (an error event, then a close). */
  failWith(code: string, message: string, closeCode = 1011): void {
    this.#emit({
      type: 'error',
      error: { type: 'invalid_request_error', code, message, param: null, event_id: null },
    });
    this.#ws.close(closeCode, code);
  }

  /**
   * The connection goes silent without closing (a half-dead TCP link): nothing is read — not even
   * pings — and nothing more is sent.
   */
  stall(): void {
    if (this.#active?.timer) clearInterval(this.#active.timer);
    this.#stalled = true;
    (this.#ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  /** Ends a stall: the socket reads and answers again (a pong that was only late). */
  unstall(): void {
    this.#stalled = false;
    (this.#ws as unknown as { _socket: { resume(): void } })._socket.resume();
  }

  /** Close from the server side (e.g. session expiry). */
  close(code = 1000, reason = ''): void {
    this.#ws.close(code, reason);
  }

  #emit({ type, ...fields }: Record<string, unknown>): void {
    // in the service's order: type, event_id, then the event's own fields
    if (this.#ws.readyState !== WebSocket.OPEN || this.#stalled) return;
    const event = { type, event_id: id('event'), ...fields };
    if (this.#options.recordServerEvents) this.emitted.push(event);
    this.#ws.send(JSON.stringify(event));
  }

  #error(code: string, message: string, eventType?: string, eventId?: unknown, param?: string): void {
    this.errors.push({ code, message, eventType });
    this.#emit({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        code,
        message,
        param: param ?? null,
        event_id: typeof eventId === 'string' ? eventId : null,
      },
    });
  }

  #onMessage(text: string, isBinary: boolean): void {
    if (isBinary) return this.#error('invalid_event', 'Binary frames are not supported.');
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(text);
    } catch {
      return this.#error('invalid_json', 'The server could not parse the event as JSON.');
    }
    if (!event || typeof event !== 'object' || typeof event.type !== 'string') {
      return this.#error('invalid_event', "Missing required parameter: 'type'.");
    }
    this.received.push(event);
    const type = event.type;
    if (!CLIENT_EVENT_TYPES.has(type))
      return this.#error('invalid_event', `Invalid value: '${type}'.`, type, event.event_id);
    this.#options.onClientEvent?.(event, this);
    switch (type) {
      case 'session.update':
        return this.#sessionUpdate(event);
      case 'input_audio_buffer.append':
        return this.#append(event);
      case 'response.create':
        return this.#responseCreate(event);
      case 'response.cancel':
        if (!this.#active)
          return this.#error(
            'response_cancel_not_active',
            'Cancellation failed: no active response found',
            type,
          );
        return this.#active.cancel('client_cancelled');
      case 'conversation.item.truncate':
        return this.#truncate(event);
      case 'conversation.item.create':
        return this.#itemCreate(event);
      case 'conversation.item.delete':
        return this.#itemDelete(event);
      case 'input_audio_buffer.commit':
        return this.#commit(event);
      case 'input_audio_buffer.clear':
        this.#bufferMs = 0;
        return this.#emit({ type: 'input_audio_buffer.cleared' });
      case 'conversation.item.retrieve':
        return this.#retrieve(event);
      case 'output_audio_buffer.clear':
        // unverified: no source states this rejection for WebSocket sessions (plausible; never sent by us)
        return this.#error(
          'invalid_event',
          'output_audio_buffer.clear is only supported for WebRTC and SIP.',
          type,
        );
      default:
        return undefined;
    }
  }

  #sessionUpdate(event: Record<string, unknown>): void {
    const violation = checkSessionUpdate(event);
    if (violation)
      return this.#error(
        violation.code,
        violation.message,
        'session.update',
        event.event_id,
        violation.param,
      );
    const voiceOf = (config: unknown) =>
      JSON.stringify(
        (config as { audio?: { output?: { voice?: unknown } } } | undefined)?.audio?.output?.voice,
      );
    const newVoice = voiceOf(event.session);
    if (this.#spokeAudio && newVoice !== undefined && newVoice !== voiceOf(this.config)) {
      // the code and text of the real error (openai/openai-agents-python #1661)
      return this.#error(
        'cannot_update_voice',
        "Cannot update a conversation's voice if assistant audio is present.",
        'session.update',
        event.event_id,
      );
    }
    // only the fields present change (S7): a partial update keeps the rest
    this.config = mergeSession(this.config ?? this.#defaults, event.session as Record<string, unknown>);
    this.#emit({ type: 'session.updated', session: this.config });
  }

  #turnDetection(): Record<string, unknown> | undefined {
    const audio = this.config?.audio as { input?: { turn_detection?: Record<string, unknown> } } | undefined;
    return audio?.input?.turn_detection;
  }

  #append(event: Record<string, unknown>): void {
    const audio = event.audio;
    if (typeof audio !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(audio)) {
      return this.#error(
        'invalid_value',
        "Invalid 'audio'. Expected base64-encoded audio.",
        'input_audio_buffer.append',
      );
    }
    const bytes = Buffer.from(audio, 'base64');
    if (bytes.length > 15 * 1024 * 1024) return this.#error('invalid_value', 'Audio too large.');
    this.#bufferMs += bytes.length / MULAW_BYTES_PER_MS;
    for (const byte of bytes) {
      this.#frame[this.#frameFill++] = byte;
      this.appendedBytes++;
      if (this.#frameFill === FRAME_BYTES) {
        this.#frameFill = 0;
        this.#vadFrame();
      }
    }
  }

  #vadFrame(): void {
    const td = this.#turnDetection();
    if (!td) return;
    const voiced = mulawRms(this.#frame) > this.#options.vadRmsThreshold;
    const positionMs = this.appendedBytes / MULAW_BYTES_PER_MS;
    const silenceMs = Number(td.silence_duration_ms ?? 500);
    if (!this.#speaking) {
      this.#voicedRun = voiced ? this.#voicedRun + 1 : 0;
      if (this.#voicedRun >= 2) {
        this.#speaking = true;
        this.#silentMs = 0;
        this.#turnStartMs = positionMs;
        this.#speechItem = id('item');
        this.#emit({
          type: 'input_audio_buffer.speech_started',
          audio_start_ms: Math.max(0, positionMs - 40 - Number(td.prefix_padding_ms ?? 300)),
          item_id: this.#speechItem,
        });
        clearTimeout(this.#idleTimer);
        if (this.#active && td.interrupt_response !== false) this.#active.cancel('turn_detected');
      }
      return;
    }
    this.#silentMs = voiced ? 0 : this.#silentMs + 20;
    if (this.#silentMs < silenceMs) return;
    this.#speaking = false;
    this.#voicedRun = 0;
    this.callerTurns++;
    this.#turnMs = positionMs - silenceMs - this.#turnStartMs;
    const itemId = this.#speechItem;
    this.#emit({
      type: 'input_audio_buffer.speech_stopped',
      audio_end_ms: positionMs - silenceMs,
      item_id: itemId,
    });
    this.#commitUserAudio(itemId);
    const audio = this.config?.audio as { input?: { transcription?: unknown } } | undefined;
    if (audio?.input?.transcription) {
      const transcript =
        this.#options.callerTranscripts[this.callerTurns - 1] ?? `caller turn ${this.callerTurns}`;
      this.#emit({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: itemId,
        content_index: 0,
        transcript,
        // billed by duration for the live transcription models (the schema's TranscriptTextUsageDuration)
        usage: { type: 'duration', seconds: Math.max(1, Math.round(this.#turnMs / 1000)) },
      });
    }
    if (td.create_response !== false) {
      if (this.#active) return; // the real server does not start a second response either
      this.#startResponse('turn', undefined, undefined);
    }
  }

  /**
   * The buffer becomes a user item: `committed`, then the item with `transcript: null` (as the
   * service sends it; @openai/agents-realtime requires the field), added and done.
   */
  #commitUserAudio(itemId: string): void {
    this.#bufferMs = 0;
    this.#emit({ type: 'input_audio_buffer.committed', previous_item_id: null, item_id: itemId });
    const item = {
      id: itemId,
      object: 'realtime.item',
      type: 'message',
      role: 'user',
      status: 'completed',
      content: [{ type: 'input_audio', transcript: null }],
    };
    this.#conversation.set(itemId, 'other');
    this.#itemBodies.set(itemId, item);
    this.#emit({ type: 'conversation.item.added', previous_item_id: null, item });
    this.#emit({ type: 'conversation.item.done', previous_item_id: null, item });
  }

  /** A manual commit: refused on an empty buffer (the service's rule and words). */
  #commit(event: Record<string, unknown>): void {
    if (this.#bufferMs < 100)
      return this.#error(
        'input_audio_buffer_commit_empty',
        `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${this.#bufferMs.toFixed(2)}ms of audio.`,
        'input_audio_buffer.commit',
        event.event_id,
      );
    this.callerTurns++;
    this.#commitUserAudio(id('item'));
  }

  #retrieve(event: Record<string, unknown>): void {
    const item = this.#itemBodies.get(String(event.item_id));
    if (!item)
      return this.#error(
        'item_not_found',
        `Item with item_id not found: ${String(event.item_id)}`,
        'conversation.item.retrieve',
        event.event_id,
      );
    this.#emit({ type: 'conversation.item.retrieved', item });
  }

  /**
   * server_vad's `idle_timeout_ms`: silence that long after the model's last response commits the empty
   * buffer as a user item and prompts a response (`input_audio_buffer.timeout_triggered`).
   */
  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    const idle = Number(this.#turnDetection()?.idle_timeout_ms ?? 0);
    if (!idle || this.#speaking) return;
    this.#idleTimer = setTimeout(() => {
      if (this.#active || this.#speaking || !this.open) return;
      const itemId = id('item');
      const at = this.appendedBytes / MULAW_BYTES_PER_MS;
      this.#emit({
        type: 'input_audio_buffer.timeout_triggered',
        audio_start_ms: Math.max(0, Math.round(at - idle)),
        audio_end_ms: Math.round(at),
        item_id: itemId,
      });
      this.#commitUserAudio(itemId);
      this.idleTimeouts++;
      this.#startResponse('idle', undefined, undefined);
    }, idle);
    this.#idleTimer.unref();
  }

  #responseCreate(event: Record<string, unknown>): void {
    const response = (event.response ?? {}) as {
      instructions?: unknown;
      conversation?: unknown;
      metadata?: unknown;
    };
    const violation = checkResponseFields(response as Record<string, unknown>, 'response.');
    if (violation)
      return this.#error(
        violation.code,
        violation.message,
        'response.create',
        event.event_id,
        violation.param,
      );
    if (response.conversation === 'none') {
      // out-of-band responses may run beside the conversation's own; this stand-in gives them no output
      const responseId = id('resp');
      const body = { id: responseId, object: 'realtime.response', metadata: response.metadata ?? null };
      this.#emit({ type: 'response.created', response: { ...body, status: 'in_progress', output: [] } });
      this.#emit({ type: 'response.done', response: { ...body, status: 'completed', output: [] } });
      return;
    }
    if (this.#active) {
      return this.#error(
        'conversation_already_has_active_response',
        `Conversation already has an active response in progress: ${this.#active.id}. Wait until the response is finished before creating a new one.`,
        'response.create',
        event.event_id,
      );
    }
    this.#startResponse(
      'create',
      typeof response.instructions === 'string' ? response.instructions : undefined,
      response.metadata,
    );
  }

  /** Starts a response as the server VAD would at the end of a caller turn (to stage races). */
  startTurnResponse(): void {
    if (!this.#active) this.#startResponse('turn', undefined, undefined);
  }

  #truncate(event: Record<string, unknown>): void {
    const item = this.#items.get(String(event.item_id));
    if (!item && this.#conversation.has(String(event.item_id))) {
      // livekit/agents #6157: truncating an item without generated audio is refused
      return this.#error(
        'unsupported_content_type',
        'Only model output audio messages can be truncated',
        'conversation.item.truncate',
        event.event_id,
      );
    }
    if (!item)
      return this.#error(
        'item_not_found',
        `Item with item_id not found: ${String(event.item_id)}`,
        'conversation.item.truncate',
        event.event_id,
      );
    const end = event.audio_end_ms;
    if (typeof end !== 'number' || !Number.isInteger(end) || end < 0 || event.content_index !== 0) {
      return this.#error(
        'invalid_value',
        'Invalid audio_end_ms or content_index.',
        'conversation.item.truncate',
      );
    }
    if (end > item.sentMs) {
      return this.#error(
        'invalid_value',
        `Audio content of ${item.sentMs}ms is already shorter than ${end}ms`,
        'conversation.item.truncate',
      );
    }
    item.truncatedAt = end;
    this.truncations.push({ itemId: item.id, audioEndMs: end });
    this.#emit({
      type: 'conversation.item.truncated',
      item_id: item.id,
      content_index: 0,
      audio_end_ms: end,
    });
  }

  #itemCreate(event: Record<string, unknown>): void {
    const item = event.item as Record<string, unknown> | undefined;
    if (!item || typeof item !== 'object')
      return this.#error('missing_required_parameter', "Missing 'item'.");
    const previous = event.previous_item_id;
    // "If the ID cannot be found, an error will be returned" (openai 7.60); the code is unverified
    if (typeof previous === 'string' && previous !== 'root' && !this.#conversation.has(previous))
      return this.#error(
        'item_not_found',
        `Item with item_id not found: ${previous}`,
        'conversation.item.create',
        event.event_id,
      );
    if (item.type === 'function_call_output') {
      const callId = String(item.call_id);
      const name = this.#functionCalls.get(callId);
      // the check is documented (a function_call with this call_id must exist); the wording is the
      // Responses API's, the Realtime text is unverified
      if (!name)
        return this.#error(
          'invalid_value',
          `No tool call found for function call output with call_id ${callId}.`,
        );
      if (typeof item.output !== 'string')
        return this.#error('invalid_type', "Invalid 'item.output': expected a string.");
      if (
        this.#pendingOutputs.some((o) => o.callId === callId) ||
        this.responses.some((r) => r.calls.includes(`${callId}:answered`))
      ) {
        // unverified rule (plausible, no source); the bridge sends one output per call_id
        return this.#error('duplicate_item', `Duplicate function_call_output for call_id ${callId}.`);
      }
      this.#pendingOutputs.push({ callId, name, output: item.output });
    } else if (item.type === 'message') {
      if (item.role === 'assistant') {
        const content = item.content as { type?: string }[] | undefined;
        if (content?.some((c) => c.type === 'output_audio')) {
          return this.#error('invalid_value', 'Assistant audio items cannot be created by the client.');
        }
      }
    } else if (item.type === 'function_call') {
      // valid GA input (e.g. replaying a conversation); its call_id may then be answered
      if (typeof item.call_id !== 'string' || typeof item.name !== 'string')
        return this.#error('missing_required_parameter', "Missing 'item.call_id' or 'item.name'.");
      this.#functionCalls.set(item.call_id, item.name);
    } else {
      return this.#error('invalid_value', `Invalid item type ${String(item.type)}`);
    }
    const itemId = typeof item.id === 'string' ? item.id : id('item');
    this.#conversation.set(itemId, 'other');
    const body = { id: itemId, object: 'realtime.item', ...item };
    this.#itemBodies.set(itemId, body);
    this.#emit({ type: 'conversation.item.added', previous_item_id: null, item: body });
    this.#emit({ type: 'conversation.item.done', previous_item_id: null, item: body });
  }

  #itemDelete(event: Record<string, unknown>): void {
    const itemId = String(event.item_id);
    if (!this.#conversation.has(itemId))
      return this.#error(
        'item_not_found',
        `Item with item_id not found: ${itemId}`,
        'conversation.item.delete',
        event.event_id,
      );
    this.#conversation.delete(itemId);
    this.#items.delete(itemId);
    this.deletions.push(itemId);
    this.#emit({ type: 'conversation.item.deleted', item_id: itemId });
  }

  #startResponse(
    trigger: 'turn' | 'create' | 'idle',
    instructions: string | undefined,
    metadata: unknown,
  ): void {
    const toolOutputs = this.#pendingOutputs;
    this.#pendingOutputs = [];
    const plan = this.#options.brain({
      trigger,
      instructions,
      callerTurns: this.callerTurns,
      toolOutputs,
      session: this,
    });
    this.#responseHost ??= this.#hostForResponses();
    const response = new StandInResponse(this.#responseHost, plan, {
      calls: toolOutputs.map((o) => `${o.callId}:answered`),
      instructions,
      metadata,
    });
    this.responses.push(response.record);
    this.#active = response;
    response.start();
  }

  #responseHost: ResponseHost | undefined;

  /** What a response may do to this session. */
  #hostForResponses(): ResponseHost {
    const { voice, msPerChar, deltaMs, deltaIntervalMs } = this.#options;
    return {
      voice,
      msPerChar,
      deltaMs,
      deltaIntervalMs,
      emit: (event) => this.#emit(event),
      inputAudioMs: () => this.appendedBytes / MULAW_BYTES_PER_MS,
      responseCount: () => this.responses.length,
      functionCallAdded: (callId, name, itemId) => {
        this.#functionCalls.set(callId, name);
        this.#conversation.set(itemId, 'other');
      },
      audioItemAdded: (item) => {
        this.#items.set(item.id, item);
        this.#conversation.set(item.id, 'audio');
      },
      spoke: () => {
        this.#spokeAudio = true;
      },
      ended: () => {
        this.#active = undefined;
        this.#armIdle();
      },
    };
  }
}
