import type { CallEvent } from '../bridge/call-events.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import {
  type CallRecord,
  RecordBuilder,
  type RecordContext,
  redacted,
  type Voicemail,
} from './call-record.js';
import type { PostCallResult } from './post-call.js';

/**
 * When a call's record changed in a way its readers care about:
 * - `started`: the call is live;
 * - `message`: the agent took a message;
 * - `ended`: the call is over (its post-call analysis may still be running);
 * - `final`: nothing more will come from the call itself (after the analysis, when there is one);
 * - `voicemail`: the caller left a voicemail after an unanswered transfer (after `final`).
 */
export type RecordMoment = 'started' | 'message' | 'ended' | 'final' | 'voicemail';
export type RecordListener = (moment: RecordMoment, record: CallRecord) => void;

/**
 * How long the record of a transferred call stays in memory for what may come after it: a
 * voicemail, or the caller back with the agent. Other calls are done when they end.
 */
const KEEP_ENDED_MS = 15 * 60_000;

/**
 * The one record of each call, built from its event stream, for everything that keeps or sends
 * records (the store, webhooks). After a call ends it runs the post-call analysis (bounded, off the
 * call) before the record is final, and keeps the record a while for a voicemail left afterwards.
 * A listener that throws is logged; the others and the call go on.
 */
export class CallLedger {
  readonly #context: RecordContext;
  readonly #log: Logger;
  readonly #analyze: ((record: CallRecord) => Promise<PostCallResult>) | undefined;
  readonly #live = new Map<string, RecordBuilder>();
  readonly #ended = new Map<string, { record: CallRecord; timer: NodeJS.Timeout }>();
  readonly #listeners: RecordListener[] = [];
  readonly #analyses = new Set<Promise<void>>();
  readonly #stored: ((callSid: string) => Promise<CallRecord | undefined>) | undefined;
  /** Events of calls whose earlier record is being looked up in the shared store, in order. */
  readonly #waiting = new Map<string, CallEvent[]>();

  constructor(o: {
    context: RecordContext;
    logger: Logger;
    /** The post-call analysis (`post_call` in the agent file). */
    analyze?: (record: CallRecord) => Promise<PostCallResult>;
    /**
     * With several processes: a call's record as another process wrote it. A caller back from an
     * unanswered transfer, or their voicemail, may reach a process that did not take the call's
     * first leg; its record goes on from the stored one instead of replacing it.
     */
    stored?: (callSid: string) => Promise<CallRecord | undefined>;
  }) {
    this.#context = o.context;
    this.#log = o.logger;
    this.#analyze = o.analyze;
    this.#stored = o.stored;
  }

  listen(listener: RecordListener): void {
    this.#listeners.push(listener);
  }

  onEvent(callSid: string, event: CallEvent): void {
    const waiting = this.#waiting.get(callSid);
    if (waiting) {
      waiting.push(event);
      return;
    }
    let builder = this.#live.get(callSid);
    if (!builder) {
      // a call back with the agent after an unanswered transfer goes on in the same record
      const earlier = this.#ended.get(callSid)?.record;
      if (!earlier && this.#stored) {
        this.#waiting.set(callSid, [event]);
        void this.#stored(callSid)
          .catch(() => undefined)
          .then((stored) => {
            const events = this.#waiting.get(callSid) ?? [];
            this.#waiting.delete(callSid);
            // a stored record means this is the call's next leg (only a return from a transfer opens
            // a second stream for a CallSid): it goes on in that record
            this.#live.set(callSid, new RecordBuilder(this.#context, callSid, stored));
            for (const e of events) this.onEvent(callSid, e);
          });
        return;
      }
      builder = new RecordBuilder(this.#context, callSid, earlier);
      this.#live.set(callSid, builder);
    }
    builder.add(event);
    const record = builder.record;
    if (event.type === 'started') this.#tell('started', record);
    else if (event.type === 'message_taken') this.#tell('message', record);
    else if (event.type === 'ended') {
      this.#live.delete(callSid);
      if (record.outcome.kind === 'transfer') this.#keep(record);
      this.#tell('ended', record);
      this.#finish(record);
    }
  }

  /** A voicemail left after the call's stream ended (an unanswered transfer). */
  voicemail(callSid: string, voicemail: Voicemail): void {
    const kept = this.#ended.get(callSid)?.record;
    if (kept) return this.#addVoicemail(kept, voicemail);
    const lost = () =>
      this.#log.child({ callSid }).warn('a voicemail for a call no longer in memory is not in its record');
    if (!this.#stored) return lost();
    // the call's first leg was taken by another process: its record is in the shared store
    void this.#stored(callSid)
      .catch(() => undefined)
      .then((stored) => (stored ? this.#addVoicemail(stored, voicemail) : lost()));
  }

  #addVoicemail(record: CallRecord, voicemail: Voicemail): void {
    const { transcript } = voicemail;
    record.voicemail = {
      ...record.voicemail,
      ...voicemail,
      ...(transcript !== undefined && this.#context.redact ? { transcript: redacted(transcript) } : {}),
    };
    this.#tell('voicemail', record);
  }

  /** Resolves once every post-call analysis under way has finished (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.#analyses.size) await Promise.allSettled([...this.#analyses]);
  }

  close(): void {
    for (const { timer } of this.#ended.values()) clearTimeout(timer);
    this.#ended.clear();
  }

  #finish(record: CallRecord): void {
    if (!this.#analyze) {
      this.#tell('final', record);
      return;
    }
    const analysis = this.#analyze(record)
      .catch((error): PostCallResult => ({ model: 'unknown', error: errorMessage(error), durationMs: 0 }))
      .then((result) => {
        record.postCall = result;
        if (result.error)
          this.#log
            .child({ callSid: record.callSid })
            .warn({ reason: result.error }, 'post-call analysis failed; the record is kept without it');
      })
      .finally(() => {
        this.#analyses.delete(analysis);
        this.#tell('final', record);
      });
    this.#analyses.add(analysis);
  }

  #keep(record: CallRecord): void {
    const timer = setTimeout(() => this.#ended.delete(record.callSid), KEEP_ENDED_MS);
    timer.unref();
    clearTimeout(this.#ended.get(record.callSid)?.timer);
    this.#ended.set(record.callSid, { record, timer });
  }

  #tell(moment: RecordMoment, record: CallRecord): void {
    for (const listener of this.#listeners) {
      try {
        listener(moment, record);
      } catch (error) {
        this.#log
          .child({ callSid: record.callSid })
          .error({ reason: errorMessage(error), moment }, 'a call record listener failed');
      }
    }
  }
}
