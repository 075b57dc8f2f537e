/**
 * How many heartbeat intervals in a row may pass without a sign of life (a pong, or any message)
 * before a socket counts as lost: one late pong — a congested path, a long GC pause — is not (W7).
 */
export const MISSED_PINGS_ALLOWED = 2;

/**
 * The heartbeat every long-lived socket of a call shares (Twilio's media stream, the Realtime and
 * GPT-Live sockets): a ping every `intervalMs`; `stalled` once {@link MISSED_PINGS_ALLOWED} intervals
 * in a row passed with no {@link alive}. A half-open TCP connection closes nothing by itself, and the
 * caller would talk into silence.
 */
export class Heartbeat {
  readonly #timer: NodeJS.Timeout;
  #missed = 0;

  constructor(o: { intervalMs: number; ping(): void; stalled(quietMs: number): void }) {
    this.#timer = setInterval(() => {
      if (this.#missed++ >= MISSED_PINGS_ALLOWED) {
        this.stop();
        o.stalled(o.intervalMs * MISSED_PINGS_ALLOWED);
        return;
      }
      o.ping();
    }, o.intervalMs);
    this.#timer.unref();
  }

  /** A pong or any message arrived (on the hot path: one field write). */
  alive(): void {
    this.#missed = 0;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
