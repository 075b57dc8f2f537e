import type { ResponseCreateEvent } from 'openai/resources/realtime/realtime';

type ResponseParams = NonNullable<ResponseCreateEvent['response']>;

/**
 * Only one response may write to the conversation at a time: a `response.create` sent while one is
 * active fails with `conversation_already_has_active_response`. Requests made meanwhile are queued;
 * plain requests (e.g. after tool outputs) are merged into one.
 */
export class ResponseSequencer {
  readonly #send: (event: ResponseCreateEvent) => void;
  #state: 'idle' | 'requested' | 'active' = 'idle';
  #queue: (ResponseParams | undefined)[] = [];
  #inFlight: ResponseParams | undefined;

  constructor(send: (event: ResponseCreateEvent) => void) {
    this.#send = send;
  }

  /** A response is requested or running. */
  get active(): boolean {
    return this.#state !== 'idle';
  }

  /** A response is running at the server (created, not yet done): something to cancel. */
  get running(): boolean {
    return this.#state === 'active';
  }

  /** Ask for a response now, or as soon as the current one is done. */
  request(params?: ResponseParams): void {
    if (params === undefined && this.#queue.includes(undefined)) return; // merge plain requests
    this.#queue.push(params);
    this.#flush();
  }

  /** `response.created`: a response is running (ours, or one the server VAD started). */
  created(): void {
    this.#state = 'active';
    this.#inFlight = undefined;
  }

  /** `response.done`: the conversation is free again. */
  done(): void {
    this.#state = 'idle';
    this.#inFlight = undefined;
    this.#flush();
  }

  /** The server refused our create because one was already active: queue it again. */
  rejectedAsBusy(): void {
    if (this.#state === 'requested') {
      this.#queue.unshift(this.#inFlight);
      this.#inFlight = undefined;
      this.#state = 'active';
    }
  }

  #flush(): void {
    if (this.#state !== 'idle' || this.#queue.length === 0) return;
    const params = this.#queue.shift();
    this.#state = 'requested';
    this.#inFlight = params;
    this.#send(
      params === undefined ? { type: 'response.create' } : { type: 'response.create', response: params },
    );
  }
}
