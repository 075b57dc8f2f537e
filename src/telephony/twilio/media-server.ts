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
    let session: StreamCall | undefined;
    /**
     * Messages that came while the start was being checked (the token's one use, in the database);
     * undefined stands for a binary frame.
     */
    let waiting: (string | undefined)[] | undefined;
    let closed = false;
    let log = this.#o.logger;
    /** This stream's messages after its `start`. */
    let reader: TwilioStreamReader | undefined;
    const ignored = new Set<string>();
    const endSocket = (reason: string) => {
      log.warn({ reason }, 'ending a media stream that broke the protocol');
      if (session) session.fail('phone_protocol', `Twilio protocol error: ${reason}`);
      else ws.close(1008, 'protocol error');
    };
    const startDeadline = setTimeout(() => {
      log.warn('closing a media stream that sent no start in time');
      ws.close(1008, 'no start');
    }, this.#o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    startDeadline.unref();

    /** A text message, or undefined for a binary frame. */
    const onMessage = (text: string | undefined) => {
      if (waiting) {
        if (waiting.length >= MAX_WAITING_MESSAGES)
          return endSocket('too many messages before the stream was accepted');
        waiting.push(text);
        return;
      }
      if (text === undefined) return endSocket('binary frame');
      let message: ReturnType<typeof parseTwilioMessage>;
      try {
        message = reader ? reader.read(text) : parseTwilioMessage(text);
      } catch (error) {
        return endSocket(error instanceof MediaProtocolError ? error.message : 'unreadable frame');
      }
      if (message.event === 'unknown') {
        // a few names are worth a line each; a peer inventing names must not fill the disk (test 21)
        if (ignored.has(message.name) || ignored.size > MAX_UNKNOWN_EVENTS_LOGGED) return;
        ignored.add(message.name);
        if (ignored.size > MAX_UNKNOWN_EVENTS_LOGGED)
          log.warn('more unknown Twilio events on this stream: no longer logged');
        else log.info({ event: message.name }, 'ignoring an unknown Twilio event');
        return;
      }
      if (message.event === 'connected') return; // Twilio sends it once; a repeat is harmless
      if (session) {
        if ('streamSid' in message && message.streamSid !== reader!.streamSid) {
          return endSocket('message for another streamSid');
        }
        if (message.event === 'start') return endSocket('a second start on the same stream');
        const event = toMediaEvent(message);
        if (event) session.handleMedia(event);
        return;
      }
      if (message.event !== 'start') return endSocket(`${message.event} before start`);
      clearTimeout(startDeadline);
      const streamSid = message.streamSid;
      reader = new TwilioStreamReader(streamSid);
      log = this.#o.logger.child({ callSid: message.callSid });
      const started = this.#o.onStart({
        callSid: message.callSid,
        streamSid,
        parameters: message.customParameters,
        media: new TwilioSocketPort(ws, streamSid, log, tcp),
        logger: log,
      });
      if (!(started instanceof Promise)) return accepted(started);
      waiting = [];
      started.then(accepted, (error: unknown) => {
        waiting = undefined;
        log.error(
          { reason: error instanceof Error ? error.message : String(error) },
          'could not start the call',
        );
        ws.close(1011, 'internal error');
      });
    };

    const accepted = (call: StreamCall | undefined) => {
      const queued = waiting ?? [];
      waiting = undefined;
      if (!call) return ws.close(1008, 'refused');
      session = call;
      if (closed) return call.end({ kind: 'completed', reason: 'Twilio closed the media stream' });
      for (const text of queued) handle(text);
    };

    const handle = (text: string | undefined) => {
      // the fault boundary of the Twilio side: a bug here ends this call, never the server
      try {
        onMessage(text);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        log.error({ reason }, 'internal error while handling a Twilio message; ending this call');
        if (session) session.fail('internal', `internal error: ${reason}`);
        else ws.terminate();
      }
    };
    const heartbeat = new Heartbeat({
      intervalMs: this.#o.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
      ping: () => ws.ping(),
      stalled: () => {
        log.warn('the media stream stopped answering pings; ending the call');
        if (session) session.fail('phone_lost', 'Twilio stopped answering pings (connection lost)');
        ws.terminate();
      },
    });
    ws.on('pong', () => heartbeat.alive());

    ws.on('error', (error) => {
      log.warn({ reason: error.message }, 'the media stream socket failed');
      if (session) session.fail('phone_lost', `Twilio socket error: ${error.message}`);
    });
    readTextFrames(
      ws,
      tcp,
      { text: handle, binary: () => handle(undefined) },
      { server: true, maxBytes: MAX_TWILIO_FRAME_BYTES },
    );
    ws.on('close', () => {
      closed = true;
      clearTimeout(startDeadline);
      heartbeat.stop();
      session?.end({ kind: 'completed', reason: 'Twilio closed the media stream' });
    });
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
