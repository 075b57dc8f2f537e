import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { defaultBrain } from './brain.js';
import { LocalLiveSession } from './live-session.js';
import { handleModel } from './models.js';
import { handleResponses, type ResponsesRequestLog } from './responses.js';
import { id, type LocalRealtimeOptions, LocalRealtimeSession, type SessionOptions } from './session.js';

/**
 * A local stand-in of the OpenAI Realtime (GA) API on 127.0.0.1 (and beside it of GPT-Live,
 * `/v1/live/sessions`, and of `POST /v1/responses` for the post-call analysis): `simulate --model local` and
 * `voice-agent test` use it so anyone can run a call with no key and no network, and the test suite
 * uses it as its fake of OpenAI. It speaks the real wire format and rejects what the real service
 * rejects: the beta header, beta-shaped or unknown-field session.update, a second response.create
 * while one is active, truncation beyond the audio it sent, malformed events. It does not understand
 * speech: caller turns are found by energy, and what the "model" says is decided by a brain (a
 * script, or a short acknowledgement per turn).
 */
export interface LocalRealtimeServer {
  /** ws://127.0.0.1:PORT/v1/realtime */
  readonly url: string;
  /** ws://127.0.0.1:PORT/v1/live/sessions: the GPT-Live stand-in (`engine: live`). */
  readonly liveUrl: string;
  readonly liveSessions: LocalLiveSession[];
  nextLiveSession(): Promise<LocalLiveSession>;
  readonly sessions: LocalRealtimeSession[];
  /** Sessions that were configured (session.update): calls, not `serve`'s start-up check. */
  callSessions(): LocalRealtimeSession[];
  /** Upgrade attempts, accepted or not. */
  readonly handshakes: { status: number; headers: IncomingMessage['headers'] }[];
  /** Every client event received on every session (for the conformance check). */
  allClientEvents(): Record<string, unknown>[];
  /** Requests to `POST /v1/responses` (the post-call analysis), with the status each got. */
  readonly responses: ResponsesRequestLog[];
  /** Resolves with the next session to connect. */
  nextSession(): Promise<LocalRealtimeSession>;
  /** From now on, answer every new upgrade with this HTTP status (undefined: accept again). */
  refuseNew(status: number | undefined): void;
  close(): Promise<void>;
}

export async function startLocalRealtime(options: LocalRealtimeOptions = {}): Promise<LocalRealtimeServer> {
  const apiKey = options.apiKey ?? 'sk-test-key';
  const sessionOptions = sessionOptionsOf(options);
  const sessions: LocalRealtimeSession[] = [];
  const handshakes: LocalRealtimeServer['handshakes'] = [];
  const waiters: ((s: LocalRealtimeSession) => void)[] = [];
  const liveSessions: LocalLiveSession[] = [];
  const liveWaiters: ((s: LocalLiveSession) => void)[] = [];
  const wss = new WebSocketServer({ noServer: true });
  let refuseStatus: number | undefined;
  const responses: ResponsesRequestLog[] = [];
  const server = createServer((req, res) => {
    // the HTTP side: the Responses API (post-call outcomes) and the models API (shutdown dates)
    if (req.method === 'POST' && req.url === '/v1/responses')
      handleResponses(req, res, apiKey, responses).catch(() => res.destroy());
    else if (req.method === 'GET' && req.url?.startsWith('/v1/models/'))
      handleModel(req, res, apiKey, options.modelShutdowns ?? {});
    else res.writeHead(404).end();
  });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const status =
      refuseStatus ??
      options.handshakeStatus ??
      (handshakes.length < (options.refuseFirst ?? 0)
        ? 429
        : handshakeStatusOf(url, req.headers.authorization, apiKey));
    handshakes.push({ status, headers: req.headers });
    if (status !== 101) {
      refuse(
        socket,
        status,
        JSON.stringify({
          error: {
            type: 'invalid_request_error',
            code: status === 401 ? 'invalid_api_key' : null,
            message: `refused with ${status}`,
          },
        }),
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (url.pathname === '/v1/live/sessions') {
        const live = new LocalLiveSession(ws, req, sessionOptions);
        liveSessions.push(live);
        liveWaiters.shift()?.(live);
        return;
      }
      if (req.headers['openai-beta']) return refuseBetaShape(ws);
      const session = new LocalRealtimeSession(ws, req, sessionOptions);
      sessions.push(session);
      waiters.shift()?.(session);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/v1/realtime`,
    liveUrl: `ws://127.0.0.1:${port}/v1/live/sessions`,
    liveSessions,
    nextLiveSession: () => new Promise((resolve) => liveWaiters.push(resolve)),
    sessions,
    callSessions: () => sessions.filter((s) => s.sent('session.update').length > 0),
    handshakes,
    responses,
    allClientEvents: () => sessions.flatMap((s) => s.received),
    nextSession: () => new Promise((resolve) => waiters.push(resolve)),
    refuseNew: (status) => {
      refuseStatus = status;
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The stand-in's defaults for what a test does not set. */
function sessionOptionsOf(options: LocalRealtimeOptions): SessionOptions {
  return {
    brain: options.brain ?? defaultBrain,
    deltaMs: options.deltaMs ?? 100,
    deltaIntervalMs: options.deltaIntervalMs ?? 10,
    msPerChar: options.msPerChar ?? 50,
    vadRmsThreshold: options.vadRmsThreshold ?? 500,
    callerTranscripts: options.callerTranscripts ?? [],
    voice: options.voice ?? 'tone',
    liveExpiresInS: options.liveExpiresInS ?? 3600,
    realtimeLifetimeS: options.realtimeLifetimeS ?? 3600,
    liveIdleSilence: options.liveIdleSilence ?? false,
    recordServerEvents: options.recordServerEvents ?? false,
  };
}

/** What the service answers a WebSocket handshake: 101, or why not (path, key, query). */
function handshakeStatusOf(url: URL, auth: string | undefined, apiKey: string): number {
  if (url.pathname !== '/v1/realtime' && url.pathname !== '/v1/live/sessions') return 404;
  if (auth !== `Bearer ${apiKey}`) return 401;
  // Live takes no query parameters (the model is in session.start)
  if (url.pathname === '/v1/live/sessions') return url.search ? 400 : 101;
  // unverified: what the service answers without exactly one of model/call_id/intent
  const routing = ['model', 'call_id', 'intent'].filter((k) => url.searchParams.has(k));
  return routing.length === 1 ? 101 : 400;
}

/** What GA does today with a beta-shaped client (`OpenAI-Beta` header): accept, say why, close. */
function refuseBetaShape(ws: WebSocket): void {
  ws.send(
    JSON.stringify({
      type: 'error',
      event_id: id('event'),
      error: {
        type: 'invalid_request_error',
        code: 'beta_api_shape_disabled',
        message: 'The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.',
        param: null,
        event_id: null,
      },
    }),
  );
  ws.close(4000, 'beta_api_shape_disabled');
}

/** A refused handshake, as the service answers it: a status and a JSON error body. */
function refuse(socket: Duplex, status: number, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
