import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import type { CallFailureCode, CallOutcome } from '../../bridge/call-outcome.js';
import type { MediaEvent, MediaStreamPort } from '../../bridge/ports.js';
import { readTextFrames } from '../../net/frame-reader.js';
import { Heartbeat } from '../../net/heartbeat.js';
import type { Logger } from '../../observability/logger.js';
import {
  MediaProtocolError,
  parseTwilioMessage,
  TwilioStreamReader,
  toMediaEvent,
} from './media-messages.js';
import { VOICE_ROUTES as ROUTES, streamUrl } from './routes.js';
import { isValidUpgradeSignature } from './signature.js';
import { TwilioSocketPort } from './socket-port.js';

/** Largest Twilio frame accepted; a bigger one ends that call (ws closes with 1009). */
export const MAX_TWILIO_FRAME_BYTES = 64 * 1024;
/** A socket that has not sent a valid `start` by then is closed (idle sockets cannot pile up). */
export const DEFAULT_START_TIMEOUT_MS = 10_000;
/** Every media socket is pinged this often; one that did not answer the previous ping is dropped. */
export const DEFAULT_PING_INTERVAL_MS = 10_000;
/** Unknown event names logged per stream (one line each); after them, one line says the rest is not. */
const MAX_UNKNOWN_EVENTS_LOGGED = 5;
/** Messages kept while a stream's start is checked (about 2 s of audio); more ends the stream. */
const MAX_WAITING_MESSAGES = 100;

/** A stream that passed the protocol checks and its `start`, as the server sees it. */
export interface StreamStart {
  callSid: string;
  streamSid: string;
  /** The `<Parameter>`s of the TwiML that opened the stream (our one-time token). */
  parameters: Record<string, string>;
  /** Sends to this stream. */
  media: MediaStreamPort;
  /** The server's logger with the CallSid bound. */
  logger: Logger;
}

/** The call that took a stream: what the stream reports goes to it. */
export interface StreamCall {
  handleMedia(event: MediaEvent): void;
  /** The stream broke (protocol, lost peer): the call ends with the fallback. */
  fail(code: CallFailureCode, reason: string): void;
  /** The stream closed. */
  end(outcome: CallOutcome): void;
}

export interface MediaServerOptions {
  logger: Logger;
  twilioAuthToken: string;
  insecureSkipSignature: boolean;
  publicUrl(): string;
  /**
   * A valid `start`: the call that takes the stream, or undefined to refuse it (e.g. a bad token).
   * While a promised answer is pending, the stream's next messages wait (bounded), in order.
   */
  onStart(start: StreamStart): StreamCall | undefined | Promise<StreamCall | undefined>;
  startTimeoutMs?: number;
  pingIntervalMs?: number;
}

/**
 * The Media Streams WebSocket endpoint: signature check on the upgrade (403 before any WebSocket
 * exists), strict parsing of every message, a deadline for `start`, ping heartbeats; each stream's
 * events go to the call the server starts for it (`onStart`, where the token is checked before any
 * model session is used).
 */
export class TwilioMediaServer {
  readonly #o: MediaServerOptions;
  readonly #wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_TWILIO_FRAME_BYTES,
    perMessageDeflate: false,
  });

  constructor(options: MediaServerOptions) {
    this.#o = options;
  }

  /** `server.on('upgrade')` handler. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== ROUTES.media && path !== `${ROUTES.media}/`) {
      refuse(socket, 404, 'Not Found');
      return;
    }
    if (!this.#o.insecureSkipSignature) {
      const url = streamUrl(this.#o.publicUrl()) + (req.url ?? '').slice(ROUTES.media.length);
      const signature = req.headers['x-twilio-signature'];
      if (
        !isValidUpgradeSignature(
          this.#o.twilioAuthToken,
          typeof signature === 'string' ? signature : undefined,
          url,
        )
      ) {
        this.#o.logger.warn(
          { path, signature: signature ? 'invalid' : 'missing' },
          'rejected a media stream that is not signed by Twilio for this URL (check --public-url)',
        );
        refuse(socket, 403, 'Forbidden');
        return;
      }
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, socket));
  }

  close(): void {
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
  }

  #accept(ws: WebSocket, tcp: Duplex): void {
    new TwilioStream(ws, tcp, this.#o);
  }
}

/**
 * One Media Stream socket, from its upgrade to its close: the `start` deadline, strict parsing of
 * each message, the call it is handed to (`onStart`), pings. What the socket sends after its
 * `start` waits, in order and bounded, while the start is being checked.
 */
class TwilioStream {
  readonly #ws: WebSocket;
  readonly #tcp: Duplex;
  readonly #o: MediaServerOptions;
  readonly #startDeadline: NodeJS.Timeout;
  readonly #heartbeat: Heartbeat;
  #log: Logger;
  #call: StreamCall | undefined;
  /** Messages that came while the start was being checked; undefined stands for a binary frame. */
  #waiting: (string | undefined)[] | undefined;
  #closed = false;
  /** This stream's messages after its `start`. */
  #reader: TwilioStreamReader | undefined;
  readonly #ignored = new Set<string>();

  constructor(ws: WebSocket, tcp: Duplex, options: MediaServerOptions) {
    this.#ws = ws;
    this.#tcp = tcp;
    this.#o = options;
    this.#log = options.logger;
    this.#startDeadline = setTimeout(() => {
      this.#log.warn('closing a media stream that sent no start in time');
      ws.close(1008, 'no start');
    }, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    this.#startDeadline.unref();
    this.#heartbeat = new Heartbeat({
      intervalMs: options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
      ping: () => ws.ping(),
      stalled: () => {
        this.#log.warn('the media stream stopped answering pings; ending the call');
        this.#call?.fail('phone_lost', 'Twilio stopped answering pings (connection lost)');
        ws.terminate();
      },
    });
    ws.on('pong', () => this.#heartbeat.alive());
    ws.on('error', (error) => {
      this.#log.warn({ reason: error.message }, 'the media stream socket failed');
      this.#call?.fail('phone_lost', `Twilio socket error: ${error.message}`);
    });
    readTextFrames(
      ws,
      tcp,
      { text: this.#handle, binary: () => this.#handle(undefined) },
      { server: true, maxBytes: MAX_TWILIO_FRAME_BYTES },
    );
    ws.on('close', () => {
      this.#closed = true;
      clearTimeout(this.#startDeadline);
      this.#heartbeat.stop();
      this.#call?.end({ kind: 'completed', reason: 'Twilio closed the media stream' });
    });
  }

  /** The fault boundary of the Twilio side: a bug here ends this call, never the server. */
  readonly #handle = (text: string | undefined): void => {
    try {
      this.#onMessage(text);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#log.error({ reason }, 'internal error while handling a Twilio message; ending this call');
      if (this.#call) this.#call.fail('internal', `internal error: ${reason}`);
      else this.#ws.terminate();
    }
  };

  /** A text message, or undefined for a binary frame. */
  #onMessage(text: string | undefined): void {
    if (this.#waiting) {
      if (this.#waiting.length >= MAX_WAITING_MESSAGES)
        return this.#protocolError('too many messages before the stream was accepted');
      this.#waiting.push(text);
      return;
    }
    if (text === undefined) return this.#protocolError('binary frame');
    let message: ReturnType<typeof parseTwilioMessage>;
    try {
      message = this.#reader ? this.#reader.read(text) : parseTwilioMessage(text);
    } catch (error) {
      return this.#protocolError(error instanceof MediaProtocolError ? error.message : 'unreadable frame');
    }
    if (message.event === 'unknown') return this.#unknown(message.name);
    if (message.event === 'connected') return; // Twilio sends it once; a repeat is harmless
    const call = this.#call;
    if (call) {
      if ('streamSid' in message && message.streamSid !== this.#reader!.streamSid)
        return this.#protocolError('message for another streamSid');
      if (message.event === 'start') return this.#protocolError('a second start on the same stream');
      const event = toMediaEvent(message);
      if (event) call.handleMedia(event);
      return;
    }
    if (message.event !== 'start') return this.#protocolError(`${message.event} before start`);
    this.#start(message);
  }

  #start(message: Extract<ReturnType<typeof parseTwilioMessage>, { event: 'start' }>): void {
    clearTimeout(this.#startDeadline);
    const { streamSid } = message;
    this.#reader = new TwilioStreamReader(streamSid);
    const log = this.#o.logger.child({ callSid: message.callSid });
    this.#log = log;
    const started = this.#o.onStart({
      callSid: message.callSid,
      streamSid,
      parameters: message.customParameters,
      media: new TwilioSocketPort(this.#ws, streamSid, log, this.#tcp),
      logger: log,
    });
    if (!(started instanceof Promise)) return this.#accepted(started);
    this.#waiting = [];
    started.then(
      (call) => this.#accepted(call),
      (error: unknown) => {
        this.#waiting = undefined;
        log.error(
          { reason: error instanceof Error ? error.message : String(error) },
          'could not start the call',
        );
        this.#ws.close(1011, 'internal error');
      },
    );
  }

  #accepted(call: StreamCall | undefined): void {
    const queued = this.#waiting ?? [];
    this.#waiting = undefined;
    if (!call) return this.#ws.close(1008, 'refused');
    this.#call = call;
    if (this.#closed) return call.end({ kind: 'completed', reason: 'Twilio closed the media stream' });
    for (const text of queued) this.#handle(text);
  }

  /** A few unknown event names are worth a line each; a peer inventing names must not fill the disk (test 21). */
  #unknown(name: string): void {
    const ignored = this.#ignored;
    if (ignored.has(name) || ignored.size > MAX_UNKNOWN_EVENTS_LOGGED) return;
    ignored.add(name);
    if (ignored.size > MAX_UNKNOWN_EVENTS_LOGGED)
      this.#log.warn('more unknown Twilio events on this stream: no longer logged');
    else this.#log.info({ event: name }, 'ignoring an unknown Twilio event');
  }

  #protocolError(reason: string): void {
    this.#log.warn({ reason }, 'ending a media stream that broke the protocol');
    if (this.#call) this.#call.fail('phone_protocol', `Twilio protocol error: ${reason}`);
    else this.#ws.close(1008, 'protocol error');
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
