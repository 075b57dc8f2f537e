import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { CallOutcome } from '../../bridge/call-outcome.js';
import type { Sql, SqlQuery } from '../../db/sql.js';
import type { AnsweredBy } from '../../telephony/twilio/outbound-call.js';
import type { CallBrief } from './call-brief.js';
import { STREAM_TOKEN_TTL_MS } from './stream-token.js';

/**
 * The state of live calls that every process of a deployment shares, in the call store's database:
 * which calls are admitted (under the global `call.max_concurrent`), which process holds each
 * call's stream, each stream token's one use, how each stream ended (for the `<Connect action>`
 * request, whichever process Twilio sends it to), and commands for the process holding a call (an
 * operator's hang-up, an answering-machine report). One process alone uses an in-memory SQLite
 * database; the workers of one machine share the SQLite file; servers share PostgreSQL.
 */

/** How often an instance says it is alive, and picks up its commands. */
export const HEARTBEAT_MS = 5_000;
export const COMMAND_POLL_MS = 250;
/** An instance not heard from in this long is gone: its calls stop counting, their action gets the fallback. */
export const INSTANCE_STALE_MS = 30_000;
/** An ended call is kept this long, for Twilio's action request and a return from a transfer. */
export const ENDED_TTL_MS = 10 * 60_000;
/** How long the action request waits for the process holding the stream to say how it ended. */
export const ACTION_WAIT_MS = 3_000;

export interface Parties {
  from?: string;
  to?: string;
}

/** `since`: when the call was admitted (its stream token's expiry counts from then). */
export type Admission =
  | { kind: 'admitted'; leg: number; since: number }
  /** A webhook for a call already admitted (a Twilio retry): same answer, nothing new opened. */
  | { kind: 'repeated'; leg: number; instance: string; since: number }
  /** Over `call.max_concurrent`: the caller gets the fallback at once. */
  | { kind: 'full'; live: number };

/** What the process that takes a stream learns of its call. */
export interface StreamClaim {
  brief: CallBrief;
  parties: Parties;
  /** Answering-machine detection that came before the stream. */
  answeredBy?: AnsweredBy;
}

/** Something the process holding a call should do to it. */
export type CallCommand =
  | { kind: 'hangup'; callSid: string; reason: string }
  | { kind: 'answered_by'; callSid: string; by: AnsweredBy };

/** A call that is live now, for operators. */
export interface LiveCall {
  callSid: string;
  agent: string;
  state: 'admitted' | 'streaming';
  instance: string;
  sinceMs: number;
}

/** This process as the others address it: its host, its pid and a random part (pids are reused). */
export function instanceId(): string {
  return `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

interface Row {
  call_sid: string;
  agent: string;
  leg: number;
  state: 'admitted' | 'streaming' | 'ended';
  instance: string;
  brief: string;
  parties: string;
  answered_by: string | null;
  outcome: string | null;
  action_answered: number | boolean;
  updated_at: number;
}

function schema(dialect: Sql['dialect']): string[] {
  const serial = dialect === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
  return [
    `CREATE TABLE IF NOT EXISTS live_calls (
       call_sid TEXT PRIMARY KEY, agent TEXT NOT NULL, leg INTEGER NOT NULL, state TEXT NOT NULL,
       instance TEXT NOT NULL, brief TEXT NOT NULL, parties TEXT NOT NULL, answered_by TEXT,
       outcome TEXT, action_answered INTEGER NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL)`,
    'CREATE INDEX IF NOT EXISTS live_calls_agent_state ON live_calls (agent, state)',
    `CREATE TABLE IF NOT EXISTS instances (
       id TEXT PRIMARY KEY, seen_at BIGINT NOT NULL, draining INTEGER NOT NULL DEFAULT 0)`,
    `CREATE TABLE IF NOT EXISTS call_commands (
       id ${serial}, instance TEXT NOT NULL, command TEXT NOT NULL, created_at BIGINT NOT NULL)`,
  ];
}

/** A streaming row of this process this old, for a call it does not hold, is ended by the heartbeat. */
const RECONCILE_AFTER_MS = 10_000;

/** Counts as live: admitted with its token still valid, or streaming on an instance still alive. */
const LIVE_WHERE = `(c.state = 'admitted' AND c.updated_at > $2)
  OR (c.state = 'streaming' AND EXISTS (SELECT 1 FROM instances i WHERE i.id = c.instance AND i.seen_at > $3))`;

export class SharedCalls {
  readonly #sql: Sql;
  /** This process, as other processes address it (`host:pid:random`). */
  readonly instance: string;
  readonly #now: () => number;
  #loop: NodeJS.Timeout | undefined;
  #ticks = 0;
  #draining = false;
  #problem: string | undefined;
  /** Call ends the database did not take yet, retried at every tick. */
  readonly #unstoredEnds = new Map<string, CallOutcome>();

  private constructor(sql: Sql, instance: string, now: () => number) {
    this.#sql = sql;
    this.instance = instance;
    this.#now = now;
  }

  static async open(sql: Sql, instance: string, now: () => number = Date.now): Promise<SharedCalls> {
    // replicas starting together must not race to create the tables (PostgreSQL's IF NOT EXISTS is
    // not safe against a concurrent CREATE)
    await sql.transaction('voice-agent schema', async (tx) => {
      for (const statement of schema(sql.dialect)) await tx.query(statement);
    });
    const calls = new SharedCalls(sql, instance, now);
    await calls.heartbeat();
    return calls;
  }

  get location(): string {
    return this.#sql.location;
  }

  /**
   * Admits a call the webhook is answering, atomically under the limit of live calls of this
   * agent (across every process sharing the database).
   */
  admit(call: {
    callSid: string;
    agent: string;
    brief: CallBrief;
    parties: Parties;
    maxConcurrent?: number;
  }): Promise<Admission> {
    return this.#sql.transaction('voice-agent admit', async (tx) => {
      // any call we know, even one that ended: a replayed webhook must not open a new stream (only a
      // return from a transfer does, through resume)
      const known = await this.#row(tx, call.callSid);
      if (known)
        return {
          kind: 'repeated',
          leg: known.leg,
          instance: known.instance,
          since: Number(known.updated_at),
        };
      if (call.maxConcurrent !== undefined) {
        const live = await this.#liveCount(tx, call.agent);
        if (live >= call.maxConcurrent) return { kind: 'full', live };
      }
      const since = this.#now();
      await tx.query(
        `INSERT INTO live_calls (call_sid, agent, leg, state, instance, brief, parties, updated_at)
         VALUES ($1, $2, 1, 'admitted', $3, $4, $5, $6)`,
        [
          call.callSid,
          call.agent,
          this.instance,
          JSON.stringify(call.brief),
          JSON.stringify(call.parties),
          since,
        ],
      );
      return { kind: 'admitted', leg: 1, since };
    });
  }

  /**
   * A stream started with a valid token for this leg: the call is now this process's. Undefined
   * when the leg's stream was already claimed (a replayed token, a duplicate stream) or is unknown.
   */
  async claim(callSid: string, leg: number): Promise<StreamClaim | undefined> {
    const rows = await this.#sql.query<Row>(
      `UPDATE live_calls SET state = 'streaming', instance = $3, updated_at = $4
       WHERE call_sid = $1 AND leg = $2 AND state = 'admitted'
       RETURNING brief, parties, answered_by`,
      [callSid, leg, this.instance, this.#now()],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      brief: JSON.parse(row.brief) as CallBrief,
      parties: JSON.parse(row.parties) as Parties,
      ...(row.answered_by ? { answeredBy: row.answered_by as AnsweredBy } : {}),
    };
  }

  /** The stream ended: how, for the action request. */
  /**
   * The call's stream ended. A database that fails now does not lose it: the end is kept and tried
   * again at every tick until stored (else the call would hold a `max_concurrent` slot for as long as
   * this process lives, reliability test 18); the failure is still thrown, for the caller's log.
   */
  async ended(callSid: string, outcome: CallOutcome): Promise<void> {
    try {
      await this.#storeEnd(callSid, outcome);
      this.#unstoredEnds.delete(callSid);
    } catch (error) {
      this.#unstoredEnds.set(callSid, outcome);
      throw error;
    }
  }

  async #storeEnd(callSid: string, outcome: CallOutcome): Promise<void> {
    await this.#sql.query(
      `UPDATE live_calls SET state = 'ended', outcome = $2, updated_at = $3 WHERE call_sid = $1`,
      [callSid, JSON.stringify(outcome), this.#now()],
    );
  }

  /** Stores the ends a failing database missed, oldest first; throws at the first that fails again. */
  async #retryEnds(): Promise<void> {
    for (const [callSid, outcome] of this.#unstoredEnds) {
      await this.#storeEnd(callSid, outcome);
      this.#unstoredEnds.delete(callSid);
    }
  }

  /**
   * This process's rows that say `streaming` for a call it no longer holds (an end lost some other
   * way) are ended: the heartbeat's reconciliation. Rows younger than {@link RECONCILE_AFTER_MS} are
   * left alone: a stream just claimed may not be held yet.
   */
  async #reconcile(held: ReadonlySet<string>): Promise<void> {
    const rows = await this.#sql.query<{ call_sid: string }>(
      `SELECT call_sid FROM live_calls WHERE instance = $1 AND state = 'streaming' AND updated_at < $2`,
      [this.instance, this.#now() - RECONCILE_AFTER_MS],
    );
    for (const { call_sid } of rows)
      if (!held.has(call_sid))
        await this.#storeEnd(call_sid, {
          kind: 'failed',
          code: 'instance_lost',
          reason: 'the call ended without its end being stored',
        });
  }

  /**
   * How the call's stream ended, for Twilio's `<Connect action>` request (which may reach any
   * process): waits, bounded, while the holding process is still finishing it. A call never
   * streamed, unknown, or held by a process that is gone counts as failed: the caller should hear
   * the fallback, not silence.
   */
  async outcomeOf(callSid: string, waitMs = ACTION_WAIT_MS): Promise<CallOutcome> {
    const deadline = this.#now() + waitMs;
    for (;;) {
      const row = await this.#row(this.#sql, callSid);
      if (!row) return { kind: 'failed', code: 'unknown_call', reason: 'unknown call' };
      if (row.state === 'ended' && row.outcome) {
        await this.#sql.query('UPDATE live_calls SET action_answered = 1 WHERE call_sid = $1', [callSid]);
        return JSON.parse(row.outcome) as CallOutcome;
      }
      const gone = row.state === 'streaming' && !(await this.#alive(row.instance));
      if (row.state === 'admitted' || gone || this.#now() >= deadline) {
        const outcome: CallOutcome =
          row.state === 'admitted'
            ? { kind: 'failed', code: 'stream_never_started', reason: 'the media stream never started' }
            : {
                kind: 'failed',
                code: 'instance_lost',
                reason: gone
                  ? `the process that held the stream (${row.instance}) stopped answering`
                  : 'the process holding the stream did not say how it ended',
              };
        await this.#sql.query(
          `UPDATE live_calls SET state = 'ended', outcome = $2, action_answered = 1, updated_at = $3
           WHERE call_sid = $1 AND state <> 'ended'`,
          [callSid, JSON.stringify(outcome), this.#now()],
        );
        return outcome;
      }
      await delay(50, undefined, { ref: false });
    }
  }

  /** Of these calls, those whose `<Connect action>` request has not come yet. */
  async awaitingAction(callSids: readonly string[]): Promise<string[]> {
    const waiting: string[] = [];
    for (const callSid of callSids) {
      const row = await this.#row(this.#sql, callSid);
      if (row && !row.action_answered) waiting.push(callSid);
    }
    return waiting;
  }

  /**
   * The caller is back from a transfer nobody answered: the same call's next leg, on `next` of the
   * earlier brief. Undefined when the call did not end in a transfer.
   */
  resume(callSid: string, next: (earlier: CallBrief) => CallBrief): Promise<number | undefined> {
    return this.#sql.transaction('voice-agent admit', async (tx) => {
      const row = await this.#row(tx, callSid);
      if (row?.state !== 'ended' || !row.outcome) return undefined;
      if ((JSON.parse(row.outcome) as CallOutcome).kind !== 'transfer') return undefined;
      const leg = row.leg + 1;
      await tx.query(
        `UPDATE live_calls SET leg = $2, state = 'admitted', instance = $3, brief = $4, outcome = NULL,
           action_answered = 0, updated_at = $5 WHERE call_sid = $1`,
        [callSid, leg, this.instance, JSON.stringify(next(JSON.parse(row.brief) as CallBrief)), this.#now()],
      );
      return leg;
    });
  }

  /**
   * Keeps who answered an outbound call; says which process holds its stream, if one does, and the
   * call's brief (its voicemail message).
   */
  async answeredBy(
    callSid: string,
    by: AnsweredBy,
  ): Promise<{ holder: string | undefined; brief: CallBrief } | undefined> {
    const rows = await this.#sql.query<Row>(
      'UPDATE live_calls SET answered_by = $2 WHERE call_sid = $1 RETURNING state, instance, brief',
      [callSid, by],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      holder: row.state === 'streaming' ? row.instance : undefined,
      brief: JSON.parse(row.brief) as CallBrief,
    };
  }

  /** The process holding a call's stream now, if any. */
  async holderOf(callSid: string): Promise<string | undefined> {
    const row = await this.#row(this.#sql, callSid);
    return row?.state === 'streaming' ? row.instance : undefined;
  }

  /** Calls of this agent that are live now, on every process. */
  async live(agent: string): Promise<LiveCall[]> {
    const now = this.#now();
    const rows = await this.#sql.query<Row>(
      `SELECT call_sid, agent, state, instance, updated_at FROM live_calls c
       WHERE c.agent = $1 AND (${LIVE_WHERE}) ORDER BY updated_at`,
      [agent, now - STREAM_TOKEN_TTL_MS, now - INSTANCE_STALE_MS],
    );
    return rows.map((r) => ({
      callSid: r.call_sid,
      agent: r.agent,
      state: r.state as LiveCall['state'],
      instance: r.instance,
      sinceMs: Number(r.updated_at),
    }));
  }

  /** Queues a command for the process holding a call. */
  async send(instance: string, command: CallCommand): Promise<void> {
    await this.#sql.query('INSERT INTO call_commands (instance, command, created_at) VALUES ($1, $2, $3)', [
      instance,
      JSON.stringify(command),
      this.#now(),
    ]);
  }

  /** Takes this process's queued commands (each is delivered once). */
  async takeCommands(): Promise<CallCommand[]> {
    const rows = await this.#sql.query<{ command: string }>(
      'DELETE FROM call_commands WHERE instance = $1 RETURNING command',
      [this.instance],
    );
    return rows.map((r) => JSON.parse(r.command) as CallCommand);
  }

  /** Says this process is alive (and whether it is draining); forgets what is long over. */
  async heartbeat(): Promise<void> {
    const now = this.#now();
    await this.#sql.query(
      `INSERT INTO instances (id, seen_at, draining) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET seen_at = $2, draining = $3`,
      [this.instance, now, this.#draining ? 1 : 0],
    );
    await this.#sql.query(`DELETE FROM live_calls WHERE state = 'ended' AND updated_at < $1`, [
      now - ENDED_TTL_MS,
    ]);
    await this.#sql.query(`DELETE FROM live_calls WHERE state <> 'ended' AND updated_at < $1`, [
      now - 24 * 3_600_000,
    ]);
    await this.#sql.query('DELETE FROM instances WHERE seen_at < $1', [now - 24 * 3_600_000]);
    await this.#sql.query('DELETE FROM call_commands WHERE created_at < $1', [now - INSTANCE_STALE_MS]);
  }

  set draining(value: boolean) {
    this.#draining = value;
  }

  /**
   * Why the shared call state cannot be reached now (the last tick failed), or undefined: `/readyz`
   * is not ready while it is set, since new calls could not be admitted or their streams claimed.
   */
  get problem(): string | undefined {
    return this.#problem;
  }

  /**
   * Runs the heartbeat and hands this process's commands to `onCommand`, until {@link stop}. A
   * database that fails is reported to `onError` once (not at every tick), tried again at the next
   * tick, and `onRecovered` is told when it answers again.
   */
  start(
    onCommand: (command: CallCommand) => void,
    onError: (error: unknown) => void,
    onRecovered: () => void = () => {},
    /** The calls whose stream this process holds now (for the heartbeat's reconciliation). */
    held: () => ReadonlySet<string> = () => new Set(),
  ): void {
    if (this.#loop) return;
    let busy = false;
    this.#loop = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        if (this.#unstoredEnds.size > 0) await this.#retryEnds();
        if (++this.#ticks % Math.round(HEARTBEAT_MS / COMMAND_POLL_MS) === 0) {
          await this.heartbeat();
          await this.#reconcile(held());
        }
        for (const command of await this.takeCommands()) onCommand(command);
        if (this.#problem !== undefined) {
          this.#problem = undefined;
          onRecovered();
        }
      } catch (error) {
        if (this.#problem === undefined) onError(error);
        this.#problem = error instanceof Error ? error.message : String(error);
      } finally {
        busy = false;
      }
    }, COMMAND_POLL_MS);
    this.#loop.unref();
  }

  /** Stops the loop and says this process is gone (its calls stop counting at once). */
  async stop(): Promise<void> {
    clearInterval(this.#loop);
    this.#loop = undefined;
    await this.#sql.query('DELETE FROM instances WHERE id = $1', [this.instance]).catch(() => undefined);
  }

  /** Closes the database connection (for a state this process opened for itself). */
  close(): Promise<void> {
    return this.#sql.close();
  }

  async #row(q: SqlQuery, callSid: string): Promise<Row | undefined> {
    return (await q.query<Row>('SELECT * FROM live_calls WHERE call_sid = $1', [callSid]))[0];
  }

  async #liveCount(q: SqlQuery, agent: string): Promise<number> {
    const now = this.#now();
    const rows = await q.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM live_calls c WHERE c.agent = $1 AND (${LIVE_WHERE})`,
      [agent, now - STREAM_TOKEN_TTL_MS, now - INSTANCE_STALE_MS],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async #alive(instance: string): Promise<boolean> {
    const rows = await this.#sql.query('SELECT 1 FROM instances WHERE id = $1 AND seen_at > $2', [
      instance,
      this.#now() - INSTANCE_STALE_MS,
    ]);
    return rows.length > 0;
  }
}
