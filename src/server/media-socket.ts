import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { CallSession } from '../bridge/call-session.js';
import type { CallOutcome, MediaStreamPort } from '../bridge/ports.js';
import type { Logger } from '../observability/logger.js';
import type { RealtimeConnection } from '../realtime/openai/connection.js';
import {
  clearMessage,
  MediaProtocolError,
  markMessage,
  mediaMessage,
  parseTwilioMessage,
} from '../telephony/twilio/media-messages.js';
import { isValidUpgradeSignature } from '../telephony/twilio/signature.js';
import type { CallRegistry } from './call-registry.js';
import { ROUTES, streamUrl } from './routes.js';

/** Largest Twilio frame accepted; a bigger one ends that call (ws closes with 1009). */
export const MAX_TWILIO_FRAME_BYTES = 64 * 1024;

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
}

/** The Twilio side of one call, as the bridge sees it. */
class TwilioSocketPort implements MediaStreamPort {
  readonly #ws: WebSocket;
  readonly #streamSid: string;

  constructor(ws: WebSocket, streamSid: string) {
    this.#ws = ws;
    this.#streamSid = streamSid;
  }

  sendMedia(payload: string): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(mediaMessage(this.#streamSid, payload));
  }

  sendMark(name: string): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(markMessage(this.#streamSid, name));
  }

  sendClear(): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(clearMessage(this.#streamSid));
  }

  close(): void {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close(1000, 'call ended');
    }
  }
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
    const endSocket = (reason: string) => {
      log.warn({ reason }, 'ending a media stream that broke the protocol');
      if (session) session.fail(`Twilio protocol error: ${reason}`);
      else ws.close(1008, 'protocol error');
    };

    ws.on('message', (data, isBinary) => {
      if (isBinary) return endSocket('binary frame');
      let message: ReturnType<typeof parseTwilioMessage>;
      try {
        message = parseTwilioMessage(data.toString());
      } catch (error) {
        return endSocket(error instanceof MediaProtocolError ? error.message : 'unreadable frame');
      }
      if (session) {
        if (
          message.event !== 'connected' &&
          'streamSid' in message &&
          message.streamSid !== session.streamSid
        ) {
          return endSocket('message for another streamSid');
        }
        session.handleTwilio(message);
        return;
      }
      if (message.event === 'connected') return;
      if (message.event !== 'start') return endSocket(`${message.event} before start`);

      const { callSid, streamSid, customParameters } = message;
      log = this.#o.logger.child({ callSid });
      const claim = this.#o.registry.claim(callSid, customParameters.token);
      if (!claim.ok) {
        log.warn('rejected a media stream with an unknown call or a wrong or reused token');
        ws.close(1008, 'invalid token');
        return;
      }
      const realtime = claim.realtime ?? this.#o.connectRealtime(callSid);
      session = this.#o.createSession({
        callSid,
        streamSid,
        media: new TwilioSocketPort(ws, streamSid),
        realtime,
        logger: log,
        onEnded: (outcome, ended) => {
          this.#o.registry.recordOutcome(callSid, outcome);
          this.#o.onSessionEnded(ended, outcome);
        },
      });
      log.info('media stream started');
      this.#o.onSessionStarted(session);
    });

    ws.on('error', (error) => endSocket(error.message));
    ws.on('close', () => {
      session?.end({ kind: 'completed', reason: 'Twilio closed the media stream' });
    });
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
