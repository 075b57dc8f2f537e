import type { ClientEvent, SessionStartEvent } from 'openai/resources/live/live';
import WebSocket from 'ws';
import type { ModelErrorCode } from '../../bridge/ports.js';
import { errorMessage } from '../../errors.js';
import { Heartbeat } from '../../net/heartbeat.js';
import { type LiveEvent, parseLiveEvent } from './events.js';

/** How long `session.start` may take to be confirmed. */
const START_TIMEOUT_MS = 10_000;
/** Ping interval of a Live socket (see heartbeat.ts): a stall is found within two of them. */
const DEFAULT_HEARTBEAT_MS = 5_000;
/** After `session.close`, how long we wait for `session.closed` (the service drains for up to 10 s). */
const CLOSE_WAIT_MS = 10_000;

export interface LiveSocketListener {
  /** Every server event, `session.started` included. */
  event(event: LiveEvent): void;
  /** The socket is gone without our asking: refused, unreachable, dropped, or closed by the service. */
  lost(code: ModelErrorCode, message: string): void;
}

/**
 * One GPT-Live WebSocket: `session.start` as the first message, the server's events parsed, and a
 * close that asks first (`session.close`) and waits, bounded, for `session.closed`. A Live session
 * lives exactly as long as its socket; a new socket is a new session.
 */
export class LiveSocket {
  #started = false;
  #closing = false;
  #gone = false;
  readonly #ws: WebSocket;
  readonly #listener: LiveSocketListener;
  readonly #startTimer: NodeJS.Timeout;
  #heartbeat: Heartbeat | undefined;
  #closedWaiter: (() => void) | undefined;

  constructor(o: {
    url: string;
    apiKey: string;
    /** The first message, built when it is sent (after `waitFor`). */
    start: () => SessionStartEvent;
    /** `session.start` waits for this (the tool servers being tried). */
    waitFor?: Promise<unknown>;
    /** Ping interval (default 5 s); two quiet intervals in a row and the session is lost. */
    heartbeatMs?: number;
    listener: LiveSocketListener;
  }) {
    this.#listener = o.listener;
    this.#ws = new WebSocket(o.url, {
      headers: { authorization: `Bearer ${o.apiKey}` },
      perMessageDeflate: false,
      handshakeTimeout: START_TIMEOUT_MS,
    });
    const waited = o.waitFor ?? Promise.resolve();
    this.#ws.on('open', () => {
      // a stalled socket (half-open TCP) closes nothing: without this the caller talks into silence
      // until max_duration_s (reliability test 5L)
      this.#heartbeat = new Heartbeat({
        intervalMs: o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
        ping: () => this.#ws.ping(),
        stalled: (quietMs) =>
          this.#lose('stalled', `GPT-Live stopped answering (no pong or event for ${quietMs / 1000} s)`),
      });
      const send = () => {
        if (this.#closing) return;
        this.#startTimer.refresh(); // the wait for tools is not the service's time to answer
        this.send(o.start());
      };
      waited.then(send, send);
    });
    this.#ws.on('message', (data) => {
      this.#heartbeat?.alive(); // any event is a sign of life
      this.#onMessage(data.toString());
    });
    this.#ws.on('pong', () => this.#heartbeat?.alive());
    this.#ws.on('unexpected-response', (_req, res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      this.#lose(
        status === 401 || status === 403 ? 'auth' : status === 429 ? 'rate_limited' : 'unreachable',
        `GPT-Live refused the connection (HTTP ${status})`,
      );
    });
    this.#ws.on('error', (error) =>
      this.#lose('unreachable', `cannot reach GPT-Live: ${errorMessage(error)}`),
    );
    this.#ws.on('close', () => {
      this.#heartbeat?.stop();
      this.#closedWaiter?.();
      this.#lose('unreachable', 'the GPT-Live connection was lost');
    });
    this.#startTimer = setTimeout(
      () =>
        this.#lose('unreachable', `GPT-Live did not confirm the session within ${START_TIMEOUT_MS / 1000} s`),
      START_TIMEOUT_MS,
    );
    this.#startTimer.unref();
  }

  get started(): boolean {
    return this.#started;
  }

  send(event: ClientEvent): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(event));
  }

  /** A pre-serialised event (caller audio: wrapped, not re-serialised, on the hot path). */
  sendRaw(text: string): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(text);
  }

  /** Ends the session: `session.close`, then a bounded wait for `session.closed`. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    clearTimeout(this.#startTimer);
    this.#heartbeat?.stop();
    if (this.#ws.readyState !== WebSocket.OPEN) {
      this.#ws.terminate();
      return;
    }
    this.send({ type: 'session.close' });
    const timer = setTimeout(() => this.#ws.terminate(), CLOSE_WAIT_MS);
    timer.unref();
    this.#closedWaiter = () => {
      clearTimeout(timer);
      this.#ws.close();
    };
  }

  #onMessage(text: string): void {
    const event = parseLiveEvent(text);
    if (!event) return; // nothing to act on (the session goes on)
    if (event.type === 'session.started') {
      this.#started = true;
      clearTimeout(this.#startTimer);
    } else if (event.type === 'session.closed') {
      this.#closedWaiter?.();
      if (!this.#closing)
        this.#lose(CLOSE_REASONS[event.reason] ?? 'closed', `GPT-Live closed the session (${event.reason})`);
      return;
    } else if (event.type === 'error' && !this.#started) {
      this.#lose('config_rejected', `GPT-Live rejected the session: ${event.message} (${event.code})`);
      return;
    }
    if (!this.#gone) this.#listener.event(event);
  }

  #lose(code: ModelErrorCode, message: string): void {
    this.#heartbeat?.stop();
    if (this.#gone || this.#closing) return;
    this.#gone = true;
    clearTimeout(this.#startTimer);
    this.#ws.terminate();
    this.#listener.lost(code, message);
  }
}

/** How a close reason of Live's reads to the call core. */
const CLOSE_REASONS: Record<string, ModelErrorCode> = {
  expired: 'session_limit',
  content: 'other',
  connection_lost: 'unreachable',
  remote_hangup: 'closed',
  close_requested: 'closed',
};
