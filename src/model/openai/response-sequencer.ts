import type { ResponseCreateEvent } from 'openai/resources/realtime/realtime';

/** What a request may set for its one response (instructions are the session's plus an addendum). */
export interface ResponseParams {
  instructions?: string;
}

interface Request {
  /** Stable for the request (echoed as `metadata.request`); each send gets its own `event_id`. */
  id: string;
  params: ResponseParams | undefined;
}

interface InFlight extends Request {
  eventId: string;
}

/**
 * Only one response may write to the conversation at a time: a `response.create` sent while one is
 * active fails with `conversation_already_has_active_response`. Requests made meanwhile are queued;
 * plain requests (e.g. after tool outputs) are merged into one.
 *
 * Every create carries an `event_id` and `metadata.request` with the same id, so a request is
 * settled by its own outcome, never by another response's: its `response.created` (metadata echoed)
 * or its rejection (`error.event_id`). That closes the common race where the server VAD starts a
 * response just before ours arrives: we see `response.created` (the VAD's), then our rejection, and
 * re-queue our request whatever state we are in (agents-js `responseCreateSequencer.ts` does the same).
 */
export class ResponseSequencer {
  readonly #send: (event: ResponseCreateEvent) => void;
  readonly #prefix: string;
  #queue: Request[] = [];
  #inFlight: InFlight | undefined;
  /** A response is running at the server; with the request it serves, when known. */
  #running: { requestId: string | undefined } | undefined;
  #next = 0;
  /** Between a lost session and its replacement: requests wait. */
  #paused = false;

  constructor(send: (event: ResponseCreateEvent) => void, idPrefix = 'va') {
    this.#send = send;
    this.#prefix = idPrefix;
  }

  /** A response is running at the server (created, not yet done): something to cancel. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Ask for a response now, or as soon as the current one is done. Returns the request's id (a plain
   * request merged into a waiting one returns that one's id).
   */
  request(params?: ResponseParams): string {
    if (params === undefined) {
      const waiting = this.#queue.find((r) => r.params === undefined);
      if (waiting) return waiting.id;
    }
    const id = `${this.#prefix}_req_${(this.#next++).toString(36)}`;
    this.#queue.push({ id, params });
    this.#flush();
    return id;
  }

  /** `response.created`: a response is running (ours when `requestId` names our request). */
  created(requestId: string | undefined): void {
    const ours = requestId !== undefined && requestId === this.#inFlight?.id;
    if (ours) this.#inFlight = undefined;
    this.#running = { requestId: ours ? requestId : undefined };
  }

  /**
   * `response.done`. Returns the id of the request this response served, when known. A request still
   * in flight with no rejection by now was accepted (a rejection always precedes the busy response's
   * done), so it is settled here too, even if the service did not echo its metadata.
   */
  done(): string | undefined {
    const served = this.#running?.requestId ?? this.#inFlight?.id;
    this.#running = undefined;
    this.#inFlight = undefined;
    this.#flush();
    return served;
  }

  /**
   * An `error` naming one of our creates. `busy` (another response is active) queues it again until
   * that response is done; any other rejection drops it, or it would be refused forever. Returns
   * the request's id when the error was about one of our creates.
   */
  rejected(eventId: string | undefined, busy: boolean): string | undefined {
    const inFlight = this.#inFlight;
    if (!eventId || eventId !== inFlight?.eventId) return undefined;
    this.#inFlight = undefined;
    if (busy) {
      this.#queue.unshift({ id: inFlight.id, params: inFlight.params });
      this.#running ??= { requestId: undefined }; // its response.created may not have reached us yet
    }
    this.#flush();
    return inFlight.id;
  }

  /**
   * The session was replaced (a reconnect): nothing runs there any more. A request still in flight
   * is asked again, but nothing is sent until {@link resume}. Returns whether a response was running.
   */
  reset(): boolean {
    const wasRunning = this.#running !== undefined;
    if (this.#inFlight) this.#queue.unshift({ id: this.#inFlight.id, params: this.#inFlight.params });
    this.#inFlight = undefined;
    this.#running = undefined;
    this.#paused = true;
    return wasRunning;
  }

  /** The new session is ready: send what waited. */
  resume(): void {
    this.#paused = false;
    this.#flush();
  }

  /** A request is waiting or in flight (not yet running). */
  get pending(): boolean {
    return this.#inFlight !== undefined || this.#queue.length > 0;
  }

  #flush(): void {
    if (this.#paused || this.#running || this.#inFlight) return;
    const next = this.#queue.shift();
    if (!next) return;
    const eventId = `${this.#prefix}_evt_${(this.#next++).toString(36)}`;
    this.#inFlight = { ...next, eventId };
    this.#send({
      type: 'response.create',
      event_id: eventId,
      response: { ...next.params, metadata: { request: next.id } },
    });
  }
}
