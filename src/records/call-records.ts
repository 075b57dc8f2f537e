import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CallAudioTap } from '../bridge/ports.js';
import { type AgentConfig, speechModelOf } from '../config/schema.js';
import { PRIVATE_DIR } from '../db/private-files.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { byToolPattern } from '../tools/tool-pattern.js';
import { AudioRecorder } from './audio-recorder.js';
import type { RecordMoment } from './call-ledger.js';
import type { CallRecord, RecordContext } from './call-record.js';
import { pricingFor } from './pricing.js';
import type { CallStore, RecordWrite } from './store.js';

/** How often queued record writes are flushed (a call's start, its end). */
const FLUSH_DELAY_MS = 200;
const DAY_MS = 24 * 3_600_000;

/** A record waiting to be written, and how often writing it failed. */
type QueuedWrite = RecordWrite & { attempts?: number };

/**
 * Keeps every call of one agent: its record (from the {@link CallLedger}), an {@link AudioRecorder}
 * fed by its audio tap (writing to the store's `workDir` as the call goes), and batched writes to the
 * {@link CallStore} — at the call's start (so a call is listed while live), at its end, when its
 * recording is made, and when its post-call analysis or a voicemail comes; never on the media path.
 * A store that fails is logged and the calls go on; records are then lost, calls never are.
 */
export class CallRecords {
  readonly #store: CallStore;
  readonly #agent: AgentConfig;
  readonly #log: Logger;
  readonly #audio = new Map<string, { recorder: AudioRecorder; tap: CallAudioTap }>();
  /** Recordings of calls that were transferred: a caller nobody answered comes back to the agent. */
  readonly #parked = new Map<
    string,
    { recorder: AudioRecorder; startedAtMs: number; timer: NodeJS.Timeout }
  >();
  #queue: QueuedWrite[] = [];
  /** Recordings being made from their tracks (a flush waits for them). */
  readonly #making = new Set<Promise<void>>();
  /** Whether recordings can be made here (the work directory could be created). */
  #canRecord: boolean | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #pruneTimer: NodeJS.Timeout | undefined;

  constructor(options: { store: CallStore; agent: AgentConfig; logger: Logger }) {
    this.#store = options.store;
    this.#agent = options.agent;
    this.#log = options.logger;
  }

  get store(): CallStore {
    return this.#store;
  }

  /** The recorder of a call's audio (undefined with `records.audio: false`). */
  audioTap(callSid: string, leg = 1): CallAudioTap | undefined {
    if (!this.#agent.records.audio || !this.#recordingDir()) return undefined;
    const live = this.#audio.get(callSid);
    if (live) return live.tap;
    const parked = this.#parked.get(callSid);
    // a later leg whose first one another process recorded: not recorded here, so the stored
    // recording of the call's first leg is kept rather than replaced
    if (!parked && leg > 1) return undefined;
    let entry: { recorder: AudioRecorder; tap: CallAudioTap };
    if (parked) {
      // the same call again: this leg is recorded after the first, on the call's timeline
      clearTimeout(parked.timer);
      this.#parked.delete(callSid);
      entry = { recorder: parked.recorder, tap: shifted(parked.recorder, Date.now() - parked.startedAtMs) };
    } else {
      const recorder = new AudioRecorder(this.#store.workDir, fileNameOf(callSid));
      entry = { recorder, tap: recorder };
    }
    this.#audio.set(callSid, entry);
    return entry.tap;
  }

  /** A change of a call's record (a {@link CallLedger} listener; cheap: writing is queued). */
  onRecord(moment: RecordMoment, record: CallRecord): void {
    if (moment !== 'ended') {
      if (moment !== 'message') this.#enqueue({ record });
      return;
    }
    const audio = this.#audio.get(record.callSid)?.recorder;
    this.#audio.delete(record.callSid);
    // the end is stored at once; the recording follows when it is made
    this.#enqueue({ record });
    if (!audio) return;
    const parked = record.outcome.kind === 'transfer';
    if (parked) this.#park(record, audio);
    const making = this.#keepRecording(record, audio, parked).finally(() => this.#making.delete(making));
    this.#making.add(making);
  }

  /**
   * Makes the call's WAV from its tracks (in chunks, off the call) and queues it with the record. The
   * tracks are deleted afterwards, unless the call may come back (a transfer nobody answered).
   */
  async #keepRecording(record: CallRecord, audio: AudioRecorder, parked: boolean): Promise<void> {
    const name = fileNameOf(record.callSid);
    const wav = join(this.#store.workDir, `${name}-${Date.now()}.wav`);
    try {
      const durationMs = await audio.writeWav(wav);
      if (durationMs !== undefined) {
        record.audio = { file: `${name}.wav`, durationMs: Math.round(durationMs) };
        this.#enqueue({ record, wav });
      }
    } catch (error) {
      await rm(wav, { force: true }).catch(() => undefined);
      this.#log
        .child({ callSid: record.callSid })
        .error(
          { reason: errorMessage(error) },
          'could not make the recording; the record is kept without it',
        );
    } finally {
      if (!parked) await audio.discard();
    }
  }

  /**
   * Deletes records past retention, and closes records a stopped server left `in_progress`, now and
   * once a day from now on.
   */
  startPruning(): void {
    const prune = () => {
      const before = new Date(Date.now() - this.#agent.records.retention_days * DAY_MS);
      this.#store
        .prune(before)
        .then((n) => {
          if (n > 0) this.#log.info({ deleted: n }, 'deleted call records past retention');
        })
        .catch((error) => this.#log.warn({ reason: errorMessage(error) }, 'could not prune call records'));
      this.#removeLeftovers()
        .then((n) => {
          if (n > 0) this.#log.info({ removed: n }, 'removed half-made recordings a stopped server left');
        })
        .catch(() => undefined);
      this.#closeStale()
        .then((n) => {
          if (n > 0) this.#log.info({ closed: n }, 'closed call records a stopped server left in progress');
        })
        .catch((error) =>
          this.#log.warn({ reason: errorMessage(error) }, 'could not close stale call records'),
        );
    };
    prune();
    this.#pruneTimer = setInterval(prune, DAY_MS);
    this.#pruneTimer.unref();
  }

  /**
   * A record still `in_progress` although its call started longer ago than the longest call this
   * agent allows (plus a margin) belongs to a server that stopped during the call (a crash, a
   * kill -9, a failed write at its end, reliability test 19): it is closed as failed, saying so.
   */
  async #closeStale(): Promise<number> {
    const cutoff = Date.now() - this.#agent.call.max_duration_s * 1000 - STALE_MARGIN_MS;
    const stale = (await this.#store.list({ outcome: 'in_progress', limit: 500 })).filter(
      (summary) => Date.parse(summary.startedAt) < cutoff,
    );
    let closed = 0;
    for (const summary of stale) {
      const record = await this.#store.get(summary.callSid);
      if (record?.outcome.kind !== 'in_progress') continue;
      record.outcome = {
        kind: 'failed',
        code: 'instance_lost',
        reason: 'the server stopped during the call: its end was never recorded',
      };
      await this.#store.write([{ record }]);
      closed++;
    }
    return closed;
  }

  /** Writes everything queued (and waits for writes under way): before exit, or to read a record. */
  async flush(): Promise<void> {
    // recordings being made join the queue first
    await Promise.all(this.#making);
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#write();
    await this.#writing;
  }

  async close(): Promise<void> {
    clearInterval(this.#pruneTimer);
    const parked = [...this.#parked.values()];
    this.#parked.clear();
    for (const { timer } of parked) clearTimeout(timer);
    await this.flush();
    // calls still live when the records close are not recorded further
    const recorders = [...parked.map((p) => p.recorder), ...[...this.#audio.values()].map((a) => a.recorder)];
    this.#audio.clear();
    await Promise.all(recorders.map((recorder) => recorder.discard()));
    await this.#store.close().catch(() => undefined);
  }

  #park(record: CallRecord, recorder: AudioRecorder): void {
    const timer = setTimeout(() => {
      this.#parked.delete(record.callSid);
      void recorder.discard();
    }, PARK_MS);
    timer.unref();
    this.#parked.set(record.callSid, { recorder, startedAtMs: Date.parse(record.startedAt), timer });
  }

  #enqueue(item: QueuedWrite): void {
    // a later write of the same record replaces the earlier one still waiting
    this.#queue = this.#queue.filter((q) => q.record !== item.record || (q.wav && !item.wav));
    this.#queue.push(item);
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      this.#write();
    }, FLUSH_DELAY_MS);
    this.#flushTimer.unref();
  }

  #write(): void {
    if (this.#queue.length === 0) return;
    // a snapshot: the live record goes on changing while the batch is written
    const batch = this.#queue.map((q) => ({ ...q, record: structuredClone(q.record) }));
    this.#queue = [];
    this.#writing = this.#writing
      .then(() => this.#store.write(batch))
      .catch(async (error) => {
        this.#log.error(
          { reason: errorMessage(error), calls: batch.length, store: this.#store.location },
          'could not write call records; the calls are not affected; retrying each',
        );
        // one at a time: a record whose recording cannot be written must not keep the others out
        for (const item of batch) await this.#store.write([item]).catch(() => this.#retryLater(item));
      });
  }

  /**
   * A record the store refused is written again after a pause that doubles (1 s … 60 s), at most
   * {@link MAX_WRITE_ATTEMPTS} times; a newer version of the same record queued meanwhile replaces it.
   */
  #retryLater(item: QueuedWrite): void {
    const attempts = (item.attempts ?? 0) + 1;
    if (attempts >= MAX_WRITE_ATTEMPTS) {
      this.#log.error({ callSid: item.record.callSid }, 'gave up writing a call record');
      if (item.wav) void rm(item.wav, { force: true }).catch(() => undefined);
      return;
    }
    const timer = setTimeout(
      () => {
        if (this.#queue.some((q) => q.record.callSid === item.record.callSid)) return;
        this.#enqueue({ ...item, attempts });
      },
      Math.min(60_000, 1_000 * 2 ** (attempts - 1)),
    );
    timer.unref();
  }

  /** Creates the work directory for recordings once; without it calls are not recorded (said once). */
  #recordingDir(): boolean {
    if (this.#canRecord === undefined) {
      try {
        mkdirSync(this.#store.workDir, { recursive: true, mode: PRIVATE_DIR });
        this.#canRecord = true;
      } catch (error) {
        this.#canRecord = false;
        this.#log.warn(
          { dir: this.#store.workDir, reason: errorMessage(error) },
          'calls are not recorded: the directory for recordings cannot be created',
        );
      }
    }
    return this.#canRecord;
  }

  /** Deletes what recordings a stopped server left half made (untouched for longer than the longest call). */
  async #removeLeftovers(): Promise<number> {
    const cutoff = Date.now() - this.#agent.call.max_duration_s * 1000 - STALE_MARGIN_MS;
    const names = await readdir(this.#store.workDir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      const path = join(this.#store.workDir, name);
      const modified = await stat(path).then(
        (s) => s.mtimeMs,
        () => Date.now(),
      );
      if (modified >= cutoff) continue;
      await rm(path, { force: true });
      removed++;
    }
    return removed;
  }
}

/** A call's files are named after its CallSid (letters and digits only). */
function fileNameOf(callSid: string): string {
  return callSid.replace(/[^A-Za-z0-9]/g, '');
}

/** A live call's record older than the longest call plus this is a stopped server's leftover. */
const STALE_MARGIN_MS = 10 * 60_000;

/** Tries to write one record before it is given up (about 8 minutes of backoff in all). */
const MAX_WRITE_ATTEMPTS = 10;

/** How long a transferred call's recording waits for the caller to come back (the transfer rings at most 60 s). */
const PARK_MS = 5 * 60_000;

/** A tap that records a later leg of a call `offsetMs` into the call's recording. */
function shifted(tap: CallAudioTap, offsetMs: number): CallAudioTap {
  return {
    caller: (payload, timestampMs) => tap.caller(payload, timestampMs + offsetMs),
    agent: (payload, atMs) => tap.agent(payload, atMs + offsetMs),
    cleared: (atMs) => tap.cleared(atMs + offsetMs),
  };
}

/** A short hash of the agent file: which version of the agent took the call. */
function agentHash(path: string): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 12);
  } catch {
    return 'unknown';
  }
}

/** How an agent's calls are recorded: its identity, prices and redaction (records and webhooks). */
export function recordContext(agent: AgentConfig, simulated: boolean): RecordContext {
  return {
    agent: {
      name: agent.name,
      hash: agentHash(agent.source),
      model: speechModelOf(agent),
      transcriptionModel: agent.realtime.transcription.model,
    },
    simulated,
    ...pricingFor(agent),
    redact: agent.records.redact,
    redactTool: (name) => byToolPattern(agent.tool_settings, name)?.redact ?? false,
  };
}
