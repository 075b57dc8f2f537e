import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { CallEvent, CallEventBody, CallEventListener } from './call-events.js';

/**
 * The fault boundary and the clock of one call. Every way into a call — a phone message, a model
 * event, a timer, a tool's completion — runs through {@link CallScope.guard}: a throw there is
 * handed to `onCrash` (which ends this call with the fallback), never to the process. Timers are
 * guarded and all cleared at once; events get their time here.
 */
export class CallScope {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #listener: CallEventListener | undefined;
  readonly #onCrash: (what: string, error: unknown) => void;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(options: {
    logger: Logger;
    now: () => number;
    onEvent?: CallEventListener;
    onCrash(what: string, error: unknown): void;
  }) {
    this.#log = options.logger;
    this.#now = options.now;
    this.#startedAt = options.now();
    this.#listener = options.onEvent;
    this.#onCrash = options.onCrash;
  }

  /** Monotonic ms when the call started. */
  get startedAt(): number {
    return this.#startedAt;
  }

  /** Milliseconds since the call started. */
  elapsed(): number {
    return this.#now() - this.#startedAt;
  }

  /**
   * {@link guard} for the per-frame entry points (media and model events): no closure per event,
   * and the description (`the <source> event <type>`) is only built when something throws.
   */
  handle<E extends { type: string }>(source: string, event: E, handler: (event: E) => void): void {
    try {
      handler(event);
    } catch (error) {
      this.#onCrash(`the ${source} event ${event.type}`, error);
    }
  }

  /** Runs one entry point of the call; a throw goes to `onCrash`. */
  guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#onCrash(what, error);
    }
  }

  /** Runs one step of the teardown: a failure is logged and the next step still runs. */
  teardown(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error({ reason: errorMessage(error) }, `internal error while ${what}`);
    }
  }

  /** A guarded one-shot timer that never keeps the process alive. */
  timer(what: string, ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(
      () => {
        this.#timers.delete(t);
        this.guard(what, fn);
      },
      Math.max(0, ms),
    );
    t.unref();
    this.#timers.add(t);
    return t;
  }

  clearTimer(t: NodeJS.Timeout | undefined): void {
    if (!t) return;
    clearTimeout(t);
    this.#timers.delete(t);
  }

  clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  /** Hands one event to the call's listener; a listener that throws is logged, never the call's end. */
  emit(event: CallEventBody): void {
    // --log-level debug tells the call's story, one line per event (never per frame)
    if (this.#log.isLevelEnabled('debug')) this.#log.debug(storyOf(event), `call event ${event.type}`);
    if (!this.#listener) return;
    try {
      this.#listener({ atMs: Math.round(this.elapsed()), ...event } as CallEvent);
    } catch (error) {
      this.#log.error({ reason: errorMessage(error) }, 'a call event listener failed');
    }
  }
}

/** An event for the debug log: what people said and tool payloads stay out (caller data). */
function storyOf(event: CallEventBody): Record<string, unknown> {
  switch (event.type) {
    case 'transcript':
      return { role: event.role, chars: event.text.length };
    case 'tool_call':
      return { tool: event.name, ok: event.ok, durationMs: event.durationMs };
    case 'started':
      return { streamId: event.streamId };
    case 'ended':
      return { outcome: event.outcome.kind, durationMs: event.durationMs };
    default: {
      const { type: _type, ...rest } = event;
      return rest;
    }
  }
}
