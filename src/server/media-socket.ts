import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import type { CallSession } from '../bridge/call-session.js';
import type { CallOutcome, MediaStreamPort } from '../bridge/ports.js';
import type { Logger } from '../observability/logger.js';
import type { RealtimeConnection } from '../realtime/openai/connection.js';
import { MediaProtocolError, parseTwilioMessage, toMediaEvent } from '../telephony/twilio/media-messages.js';
import { isValidUpgradeSignature } from '../telephony/twilio/signature.js';
import { TwilioSocketPort } from '../telephony/twilio/socket-port.js';
import type { CallRegistry } from './call-registry.js';
import { ROUTES, streamUrl } from './routes.js';

/** Largest Twilio frame accepted; a bigger one ends that call (ws closes with 1009). */
export const MAX_TWILIO_FRAME_BYTES = 64 * 1024;
/** A socket that has not sent a valid `start` by then is closed (idle sockets cannot pile up). */
export const DEFAULT_START_TIMEOUT_MS = 10_000;
/** Every media socket is pinged this often; one that did not answer the previous ping is dropped. */
export const DEFAULT_PING_INTERVAL_MS = 10_000;

export interface MediaSocketOptions {
  registry: CallRegistry;
  logger: Logger;
  twilioAuthToken: string;
  insecureSkipSignature: boolean;
  publicUrl(): string;
  /** Opens a Realtime connection when no pre-warmed one is waiting. */
  connectRealtime(callSid: string): RealtimeConnection;
  createSession(init: {
    callSid: string;
    streamSid: string;
    media: MediaStreamPort;
    realtime: RealtimeConnection;
    logger: Logger;
    onEnded(outcome: CallOutcome, session: CallSession): void;
  }): CallSession;
  onSessionStarted(session: CallSession): void;
  onSessionEnded(session: CallSession, outcome: CallOutcome): void;
  startTimeoutMs?: number;
  pingIntervalMs?: number;
}

/**
 * Media Streams WebSocket endpoint: signature check on the upgrade (403 before any WebSocket exists),
 * token check on `start` (before any OpenAI session is used), then one CallSession per socket.
 */
export class MediaSocketServer {
  readonly #o: MediaSocketOptions;
  readonly #wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_TWILIO_FRAME_BYTES,
    perMessageDeflate: false,
  });

  constructor(options: MediaSocketOptions) {
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
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
  }

  close(): void {
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
  }

  #accept(ws: WebSocket): void {
    let session: CallSession | undefined;
    let log = this.#o.logger;
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

    const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) return endSocket('binary frame');
      let message: ReturnType<typeof parseTwilioMessage>;
      try {
        message = parseTwilioMessage(data.toString());
      } catch (error) {
        return endSocket(error instanceof MediaProtocolError ? error.message : 'unreadable frame');
      }
      if (message.event === 'unknown') {
        if (!ignored.has(message.name)) log.info({ event: message.name }, 'ignoring an unknown Twilio event');
        ignored.add(message.name);
        return;
      }
      if (message.event === 'connected') return; // Twilio sends it once; a repeat is harmless
      if (session) {
        if ('streamSid' in message && message.streamSid !== session.streamSid) {
          return endSocket('message for another streamSid');
        }
        if (message.event === 'start') return endSocket('a second start on the same stream');
        const event = toMediaEvent(message);
        if (event) session.handleMedia(event);
        return;
      }
      if (message.event !== 'start') return endSocket(`${message.event} before start`);
      clearTimeout(startDeadline);
      session = this.#start(ws, message, (child) => {
        log = child;
      });
    };

    ws.on('message', (data, isBinary) => {
      // the fault boundary of the Twilio side: a bug here ends this call, never the server
      try {
        onMessage(data, isBinary);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        log.error({ reason }, 'internal error while handling a Twilio message; ending this call');
        if (session) session.fail('internal', `internal error: ${reason}`);
        else ws.terminate();
      }
    });
    ws.on('pong', () => {
      alive = true;
    });
    let alive = true;
    const heartbeat = setInterval(() => {
      if (!alive) {
        log.warn('the media stream stopped answering pings; ending the call');
        if (session) session.fail('phone_lost', 'Twilio stopped answering pings (connection lost)');
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, this.#o.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS);
    heartbeat.unref();

    ws.on('error', (error) => {
      log.warn({ reason: error.message }, 'the media stream socket failed');
      if (session) session.fail('phone_lost', `Twilio socket error: ${error.message}`);
    });
    ws.on('close', () => {
      clearTimeout(startDeadline);
      clearInterval(heartbeat);
      session?.end({ kind: 'completed', reason: 'Twilio closed the media stream' });
    });
  }

  /** A valid `start`: check the one-time token, then create the call's session. */
  #start(
    ws: WebSocket,
    message: Extract<ReturnType<typeof parseTwilioMessage>, { event: 'start' }>,
    setLogger: (logger: Logger) => void,
  ): CallSession | undefined {
    const { callSid, streamSid, customParameters } = message;
    const log = this.#o.logger.child({ callSid });
    setLogger(log);
    const claim = this.#o.registry.claim(callSid, customParameters.token);
    if (!claim.ok) {
      log.warn('rejected a media stream with an unknown call or a wrong or reused token');
      ws.close(1008, 'invalid token');
      return undefined;
    }
    // a pre-warmed socket that failed meanwhile (a network blip, a 429) is replaced, not inherited
    const prewarmed = claim.realtime?.closed ? undefined : claim.realtime;
    if (claim.realtime && !prewarmed) log.info('the pre-warmed OpenAI session failed; opening a new one');
    const realtime = prewarmed ?? this.#o.connectRealtime(callSid);
    const session = this.#o.createSession({
      callSid,
      streamSid,
      media: new TwilioSocketPort(ws, streamSid, log),
      realtime,
      logger: log,
      onEnded: (outcome, ended) => {
        this.#o.registry.recordOutcome(callSid, outcome);
        this.#o.onSessionEnded(ended, outcome);
      },
    });
    log.info('media stream started');
    this.#o.onSessionStarted(session);
    // started once registered: a session that ends at once (a pre-warm that already failed) is
    // still counted, reported and removed like any other
    session.start();
    return session;
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
