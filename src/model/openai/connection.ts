import type { Duplex } from 'node:stream';
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import WebSocket from 'ws';
import type { ModelErrorCode } from '../../bridge/ports.js';
import { readTextFrames } from '../../net/frame-reader.js';
import { Heartbeat } from '../../net/heartbeat.js';
import { TextFrameSender } from '../../net/text-frame.js';
import type { Logger } from '../../observability/logger.js';
import { FATAL_ERROR_CODES, parseServerEvent, type ServerEvent } from './events.js';

/** The fatal service error codes, as the call core's failure kinds. */
const FATAL_CODE_KINDS: Record<string, ModelErrorCode> = {
  invalid_api_key: 'auth',
  insufficient_quota: 'rate_limited',
  session_expired: 'session_limit',
  model_not_found: 'other',
  beta_api_shape_disabled: 'other',
};

/** Why a Realtime connection ended, phrased for the operator. */
export interface RealtimeClosed {
  /** True when we closed it ourselves. */
  expected: boolean;
  /** The service ended the session at its 60-minute limit (not a failure of the call). */
  sessionLimit?: boolean;
  /** What kind of failure, for the call core (when not expected). */
  code: ModelErrorCode;
  message: string;
}

export interface RealtimeListener {
  onEvent(event: ServerEvent): void;
  onClose(closed: RealtimeClosed): void;
}

/** The bridge's view of a Realtime session (house rule 1: one small interface per peer). */
export interface RealtimeConnection {
  /** When the connection was opened (monotonic ms): the service's session clock starts about then. */
  readonly openedAt: number;
  send(event: RealtimeClientEvent): void;
  /** Hot path: caller audio, base64 μ-law, already validated. */
  appendAudio(base64: string): void;
  /** Events (and a close) that arrived before a listener was attached are replayed to it. */
  attach(listener: RealtimeListener): void;
  /** The connection ended (failed or closed) before anyone used it: a stream must open a new one. */
  readonly closed: boolean;
  close(): void;
}

export interface ConnectRealtimeOptions {
  url: string;
  model: string;
  apiKey: string;
  logger: Logger;
  /**
   * Sent as soon as the socket opens (and `waitFor` has resolved), before anything else; a function
   * is called then, so what it builds is current.
   */
  firstEvent?: RealtimeClientEvent | (() => RealtimeClientEvent);
  /** Nothing is sent before this settles (the tool servers being tried); events queue meanwhile. */
  waitFor?: Promise<unknown>;
  handshakeTimeoutMs?: number;
  /** Ping interval; a socket that has not answered the previous ping is considered lost. */
  heartbeatMs?: number;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * A Realtime socket can stall without closing (a half-dead TCP connection): the caller would hear
 * silence until they hang up. A ping every 5 s; the session is lost only after two intervals in a row
 * with neither a pong nor any event (see heartbeat.ts; a stall is found within 15 s; common clients wait
 * 20 s). RFC 6455 obliges the peer to answer; not verified against the live service.
 */
export const DEFAULT_HEARTBEAT_MS = 5_000;
/** `input_audio_buffer.append` around its base64 audio, as text and encoded once. */
const APPEND = { head: '{"type":"input_audio_buffer.append","audio":"', tail: '"}' };
export const APPEND_BYTES = { head: Buffer.from(APPEND.head), tail: Buffer.from(APPEND.tail) };
/** Server events up to this size are read straight off the socket (see frame-reader.ts). */
const MAX_READ_DIRECT_BYTES = 1024 * 1024;
/** Bound on events queued before the socket opens (~20 s of 20 ms frames). */
const MAX_QUEUED_BEFORE_OPEN = 1_000;

const HANDSHAKE_MESSAGES: Record<number, string> = {
  401: 'OpenAI rejected the API key (HTTP 401): check OPENAI_API_KEY',
  403: 'OpenAI refused access (HTTP 403): the key or project may not have Realtime access to this model',
  404: 'OpenAI Realtime endpoint or model not found (HTTP 404): check realtime.url and model',
  429: 'OpenAI rate limit or quota exceeded (HTTP 429): check your usage limits and billing',
};

/** Builds `<url>?model=<model>`, keeping any query the URL already has. */
export function realtimeUrl(base: string, model: string): string {
  const url = new URL(base);
  url.searchParams.set('model', model);
  return url.toString();
}

/**
 * The WebSocket of a GA Realtime session (the connection's and the start-up check's): Bearer auth
 * only, no redirects with the key, no compression.
 */
export function openRealtimeSocket(options: {
  url: string;
  model: string;
  apiKey: string;
  handshakeTimeoutMs?: number;
}): WebSocket {
  return new WebSocket(realtimeUrl(options.url, options.model), {
    headers: { Authorization: `Bearer ${options.apiKey}` },
    handshakeTimeout: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    followRedirects: false,
    perMessageDeflate: false,
  });
}

/** An HTTP answer instead of the upgrade, phrased for the operator. */
export function handshakeFailure(status: number): { code: ModelErrorCode; message: string } {
  return {
    code: status === 401 || status === 403 ? 'auth' : status === 429 ? 'rate_limited' : 'other',
    message: HANDSHAKE_MESSAGES[status] ?? `OpenAI refused the connection (HTTP ${status})`,
  };
}

/** The endpoint could not be reached at all. */
export function unreachable(url: string, error: Error): { code: ModelErrorCode; message: string } {
  return {
    code: 'unreachable',
    message: `cannot reach OpenAI Realtime at ${new URL(url).host}: ${error.message}`,
  };
}

/**
 * Opens a GA Realtime WebSocket: `Authorization: Bearer` only — never the `OpenAI-Beta` header, which
 * the GA service now answers with `beta_api_shape_disabled` and a close.
 */
export function connectRealtime(options: ConnectRealtimeOptions): RealtimeConnection {
  return new WsRealtimeConnection(options);
}

class WsRealtimeConnection implements RealtimeConnection {
  readonly openedAt = performance.now();
  readonly #socket: WebSocket;
  readonly #logger: Logger;
  #queue: string[] | undefined = [];
  #listener: RealtimeListener | undefined;
  #early: ServerEvent[] = [];
  #closed: RealtimeClosed | undefined;
  #failure: { code: ModelErrorCode; message: string } | undefined;
  #expired = false;
  #heartbeat: Heartbeat | undefined;
  /** Caller audio as single frames on the socket, once it is known (see text-frame.ts). */
  #frames: TextFrameSender | undefined;

  constructor(options: ConnectRealtimeOptions) {
    this.#logger = options.logger;
    this.#socket = openRealtimeSocket(options);
    let tcp: Duplex | undefined;
    let opened = false;
    let waited = options.waitFor === undefined;
    const flush = () => {
      if (!opened || !waited || this.#queue === undefined || this.#socket.readyState !== WebSocket.OPEN)
        return;
      const first = options.firstEvent;
      const queued = this.#queue;
      this.#queue = undefined;
      if (first) this.#socket.send(JSON.stringify(typeof first === 'function' ? first() : first));
      for (const text of queued) this.#socket.send(text);
    };
    const afterWait = () => {
      waited = true;
      flush();
    };
    options.waitFor?.then(afterWait, afterWait);
    this.#socket.on('open', () => {
      readTextFrames(
        this.#socket,
        tcp,
        { text: (text) => this.#onText(text), binary: () => {} },
        { server: false, maxBytes: MAX_READ_DIRECT_BYTES },
      );
      opened = true;
      flush();
      this.#startHeartbeat(options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    });
    this.#socket.on('upgrade', (response) => {
      tcp = response.socket;
      this.#frames = new TextFrameSender(this.#socket, response.socket, true);
    });
    this.#socket.on('pong', () => this.#heartbeat?.alive());
    this.#socket.on('unexpected-response', (_req, res) => {
      this.#failure = handshakeFailure(res.statusCode ?? 0);
      res.resume();
      this.#socket.terminate();
    });
    this.#socket.on('error', (err) => {
      this.#failure ??= unreachable(options.url, err);
    });
    this.#socket.on('close', (code, reason) => {
      if (this.#closed) return;
      const text = reason.toString();
      const sessionLimit = this.#expired || (code === 1001 && /maximum duration/i.test(text));
      this.#finish(
        sessionLimit
          ? {
              expected: false,
              sessionLimit,
              code: 'session_limit',
              message: 'the OpenAI Realtime session reached its 60-minute limit',
            }
          : {
              expected: false,
              ...(this.#failure ?? {
                code: 'closed',
                message: `OpenAI closed the connection (code ${code}${text ? `: ${text}` : ''})`,
              }),
            },
      );
    });
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  attach(listener: RealtimeListener): void {
    this.#listener = listener;
    const early = this.#early;
    this.#early = [];
    for (const event of early) listener.onEvent(event);
    if (this.#closed) listener.onClose(this.#closed);
  }

  send(event: RealtimeClientEvent): void {
    this.#sendText(JSON.stringify(event));
  }

  appendAudio(base64: string): void {
    // base64 needs no JSON escaping (and is ASCII): the frame is written around it, no JSON built
    if (this.#frames !== undefined && this.#queue === undefined && !this.#closed)
      this.#frames.sendWrapped(APPEND_BYTES.head, base64, APPEND_BYTES.tail);
    else this.#sendText(APPEND.head + base64 + APPEND.tail);
  }

  close(): void {
    if (this.#closed) return;
    this.#finish({ expected: true, code: 'closed', message: 'closed by voice-agent' });
    if (this.#socket.readyState === WebSocket.CONNECTING) this.#socket.terminate();
    else this.#socket.close(1000, 'call ended');
  }

  #sendText(text: string): void {
    if (this.#closed) return;
    if (this.#queue) {
      if (this.#queue.length < MAX_QUEUED_BEFORE_OPEN) this.#queue.push(text);
      return;
    }
    this.#socket.send(text);
  }

  /** A server event (binary frames are not part of the protocol and are ignored). */
  #onText(text: string): void {
    this.#heartbeat?.alive(); // any event is a sign of life
    const event = parseServerEvent(text);
    if (!event) return;
    if (event.type === 'error' && event.code && FATAL_ERROR_CODES.has(event.code)) {
      this.#failure = {
        code: FATAL_CODE_KINDS[event.code] ?? 'other',
        message: `OpenAI ended the session: ${event.message} (${event.code})`,
      };
      if (event.code === 'session_expired') this.#expired = true;
    }
    this.#deliver(event);
  }

  #deliver(event: ServerEvent): void {
    if (this.#listener) this.#listener.onEvent(event);
    else this.#early.push(event);
  }

  #startHeartbeat(intervalMs: number): void {
    this.#heartbeat = new Heartbeat({
      intervalMs,
      ping: () => this.#socket.ping(),
      stalled: (quietMs) => {
        this.#failure = {
          code: 'stalled',
          message: `the OpenAI Realtime socket stopped answering (no pong or event for ${quietMs / 1000} s)`,
        };
        this.#socket.terminate(); // 'close' follows and reports the failure
      },
    });
  }

  #finish(closed: RealtimeClosed): void {
    this.#heartbeat?.stop();
    this.#closed = closed;
    this.#queue = undefined;
    if (!closed.expected) this.#logger.debug({ reason: closed.message }, 'realtime connection closed');
    this.#listener?.onClose(closed);
  }
}
