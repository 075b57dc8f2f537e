import { FRAME_MS, MULAW_BYTES_PER_MS, MULAW_SILENCE } from '../../audio/mulaw.js';
import { speechSegments } from '../../audio/speech-segments.js';
import type { CallLog } from './call-log.js';
import { type CallerEvent, CallFailedError, TwilioCaller } from './twilio-caller.js';
import type { NextStep } from './twiml-reader.js';

/**
 * Plays recorded caller turns into a voice-agent server exactly as Twilio would, and reports what
 * happened. The server is either in-process (then the report also has the agent's transcript and
 * tool calls) or remote (`--url`: only what a caller can observe).
 */

export interface SimulationTurn {
  file: string;
  audio: Buffer;
}

/** What a progress line shows: the call clock, the turn, and who is speaking now. */
export interface SimulationProgress {
  callMs: number;
  turn: number;
  turns: number;
  speaking: 'caller' | 'agent' | undefined;
}

export interface SimulationOptions {
  webhookUrl: string;
  authToken: string | undefined;
  turns: SimulationTurn[];
  speed: number;
  /** Longest wait for the agent to answer a turn (seconds). */
  turnGapS: number;
  /** Silence after the last turn before hanging up (seconds). */
  tailS: number;
  /** Whether to wait for a greeting first (unknown for a remote server: waited for briefly). */
  expectGreeting: boolean | 'maybe';
  /**
   * In-process runs: the agent is still working (a tool is running), so a caller waits for its
   * answer instead of taking the silence for the end of it.
   */
  busy?: () => boolean;
  /** For in-process runs: the server-side record of the call, once it ended. */
  /** The server's log of a call (in-process runs): its transcript, tool calls and outcome. */
  logOf?: (callSid: string) => Promise<CallLog | undefined>;
  onProgress?: (state: SimulationProgress) => void;
  /**
   * After the recorded turns: the caller's next turn, composed from what the agent just said (its
   * audio); undefined hangs up. For a simulated caller that improvises (a persona).
   */
  nextTurn?: (agentSaid: Buffer, turnsSoFar: number) => Promise<SimulationTurn | undefined>;
}

export interface SimulationReport {
  ok: boolean;
  call_sid: string;
  /** How the call ended and what came next (hangup, transfer dial, fallback). */
  outcome: {
    ended_by: 'caller' | 'agent' | 'error';
    next: NextStep;
    server?: { kind: string; reason: string };
  };
  duration_ms: number;
  transcript: {
    at_ms: number;
    role: 'caller' | 'agent';
    text: string;
    interrupted?: boolean;
    heard_ms?: number;
  }[];
  tool_calls: { at_ms: number; name: string; arguments: string; output: string; duration_ms: number }[];
  barge_ins: { at_ms: number; agent_heard_ms: number }[];
  latency: {
    /** Stream start → first agent audio (wall ms), when the agent greets. */
    greeting_ms: number | null;
    turns: {
      turn: number;
      file: string;
      speech_end_ms: number;
      first_agent_audio_ms: number | null;
      latency_ms: number | null;
    }[];
  };
  agent_audio_ms: number;
  problems: string[];
}

export interface SimulationResult {
  report: SimulationReport;
  /** What the caller heard of the agent, on the call timeline (8 kHz μ-law). */
  agentAudio: Buffer;
}

/** Where speech ends in a turn: the end of the last frame with energy. */
export function speechEndOffsetMs(audio: Buffer): number {
  return speechSegments(audio).at(-1)?.endMs ?? 0;
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  return new SimulatedCall(options).run();
}

/** One simulated call: dial, the greeting, each turn and its answer, hang up, then the report. */
class SimulatedCall {
  readonly #o: SimulationOptions;
  readonly #caller: TwilioCaller;
  /** When agent audio arrived (call ms). */
  readonly #agentAudio: number[] = [];
  readonly #problems: string[] = [];
  readonly #turns: SimulationReport['latency']['turns'] = [];
  #turnIndex = 0;
  #callerSpeaking = false;
  #endedBy: SimulationReport['outcome']['ended_by'] = 'caller';
  #firstTurnAt: number | undefined;
  /** Where the agent's speech the next composed turn answers begins. */
  #agentHeardFrom = 0;

  constructor(options: SimulationOptions) {
    this.#o = options;
    this.#caller = new TwilioCaller({
      webhookUrl: options.webhookUrl,
      authToken: options.authToken,
      speed: options.speed,
      onEvent: (e: CallerEvent) => {
        if (e.type === 'agent-audio') this.#agentAudio.push(e.atMs);
      },
    });
  }

  async run(): Promise<SimulationResult> {
    const progress = setInterval(() => this.#progress(), 200);
    progress.unref();
    const caller = this.#caller;
    try {
      await caller.dial();
      if (this.#o.expectGreeting)
        await caller.waitForAgent({
          timeoutMs: this.#o.turnGapS * 1000,
          ...(this.#o.expectGreeting === 'maybe' ? { startWithinMs: 3000 } : {}),
        });
      for await (const turn of this.#allTurns()) {
        if (!caller.open) break;
        await this.#play(turn);
      }
      await this.#waitWhileBusy();
      if (caller.open) await caller.pause(this.#o.tailS * 1000);
      if (caller.open) await caller.hangUp();
      else this.#endedBy = 'agent';
    } catch (error) {
      if (!(error instanceof CallFailedError)) throw error;
      this.#endedBy = 'error';
      this.#problems.push(error.message);
    } finally {
      clearInterval(progress);
    }
    return { report: await this.#report(), agentAudio: agentTrack(caller) };
  }

  #progress(): void {
    const now = this.#caller.now();
    const agentSpeaking = (this.#agentAudio.at(-1) ?? Number.NEGATIVE_INFINITY) > now - 300;
    this.#o.onProgress?.({
      callMs: now,
      turn: this.#turnIndex,
      turns: this.#o.turns.length,
      speaking: this.#callerSpeaking ? 'caller' : agentSpeaking ? 'agent' : undefined,
    });
  }

  /** The recorded turns, then any the caller composes live from what the agent said (a persona). */
  async *#allTurns(): AsyncGenerator<SimulationTurn> {
    yield* this.#o.turns;
    const nextTurn = this.#o.nextTurn;
    if (!nextTurn) return;
    while (this.#caller.open) {
      const said = this.#caller.playback.segments
        .filter((seg) => seg.atMs >= this.#agentHeardFrom)
        .map((seg) => seg.audio);
      const next = await nextTurn(Buffer.concat(said), this.#turnIndex);
      if (!next) return;
      yield next;
    }
  }

  /** One caller turn, the wait for its answer, and its latency. */
  async #play(turn: SimulationTurn): Promise<void> {
    const caller = this.#caller;
    this.#turnIndex++;
    const startedAt = caller.now();
    this.#firstTurnAt ??= startedAt;
    this.#callerSpeaking = true;
    await caller.speak(turn.audio).finally(() => {
      this.#callerSpeaking = false;
    });
    const speechMs = speechEndOffsetMs(turn.audio);
    const speechEnd = startedAt + speechMs;
    this.#agentHeardFrom = caller.now();
    await caller.waitForAgent({ timeoutMs: this.#o.turnGapS * 1000 });
    await this.#waitWhileBusy();
    const first = this.#firstAudioAfter(speechEnd);
    this.#turns.push({
      turn: this.#turnIndex,
      file: turn.file,
      speech_end_ms: Math.round(speechEnd),
      first_agent_audio_ms: first === null ? null : Math.round(first),
      latency_ms: first === null ? null : this.#wall(first - speechEnd),
    });
    // a turn of silence is allowed to go unanswered
    if (first === null && caller.open && speechMs > 0)
      this.#problems.push(
        `turn ${this.#turnIndex} (${turn.file}): the agent did not answer within ${this.#o.turnGapS} s`,
      );
  }

  /** While a tool runs, the answer is still coming: wait for it (bounded by the turn gap). */
  async #waitWhileBusy(): Promise<void> {
    const { busy, turnGapS, speed } = this.#o;
    const caller = this.#caller;
    if (!busy?.()) return;
    const until = caller.now() + turnGapS * 1000 * speed;
    while (caller.open && busy() && caller.now() < until) await caller.pause(FRAME_MS * 5);
    // the answer to the tool's output comes after it (a filler before does not count)
    const done = caller.now();
    while (caller.open && this.#firstAudioAfter(done) === null && caller.now() < until)
      await caller.pause(FRAME_MS);
    if (caller.open) await caller.waitForAgent({ timeoutMs: turnGapS * 1000 });
  }

  #firstAudioAfter(t: number): number | null {
    return this.#agentAudio.find((at) => at >= t) ?? null;
  }

  /** Call time as wall time (a sped-up call's gaps are shorter). */
  #wall(callMs: number): number {
    return Math.round(callMs / this.#o.speed);
  }

  async #report(): Promise<SimulationReport> {
    const caller = this.#caller;
    const problems = this.#problems;
    const next = await caller.outcome();
    const durationMs = caller.now();
    if (next.kind === 'error' && !problems.includes(next.message))
      problems.push(`after the stream: ${next.message}`);
    for (const v of caller.violations) problems.push(`protocol: ${v}`);
    const session = this.#o.logOf ? await this.#o.logOf(caller.callSid) : undefined;
    const streamAt = caller.streamStartedAt ?? 0;
    const toCallTime = (sessionMs: number) => Math.round(streamAt + sessionMs * this.#o.speed);
    if (session?.outcome?.kind === 'failed') problems.push(`the call failed: ${session.outcome.reason}`);
    if (!session && this.#endedBy === 'agent' && next.kind === 'say')
      problems.push(`the server ended the stream and played its fallback: "${next.text}"`);
    const greetingAudio = this.#firstAudioAfter(streamAt);
    return {
      ok: problems.length === 0,
      call_sid: caller.callSid,
      outcome: {
        ended_by: this.#endedBy,
        next,
        ...(session?.outcome
          ? { server: { kind: session.outcome.kind, reason: session.outcome.reason } }
          : {}),
      },
      duration_ms: Math.round(durationMs),
      transcript: (session?.transcript ?? []).map((t) => ({
        at_ms: toCallTime(t.atMs),
        role: t.role,
        text: t.text,
        ...(t.interrupted ? { interrupted: true, heard_ms: t.heardMs } : {}),
      })),
      tool_calls: (session?.toolCalls ?? []).map((c) => ({
        at_ms: toCallTime(c.atMs),
        name: c.name,
        arguments: c.arguments,
        output: c.result.output,
        ...(c.result.ok ? {} : { error_code: c.result.code }),
        duration_ms: Math.round(c.durationMs),
      })),
      barge_ins: caller.clears.map((c) => ({
        at_ms: Math.round(c.atMs),
        agent_heard_ms: Math.round(c.heardMs),
      })),
      latency: {
        // only audio that came before the caller's first turn is a greeting
        greeting_ms:
          greetingAudio !== null && (this.#firstTurnAt === undefined || greetingAudio < this.#firstTurnAt)
            ? this.#wall(greetingAudio - streamAt)
            : null,
        turns: this.#turns,
      },
      agent_audio_ms: Math.round(caller.playback.heardMs(durationMs)),
      problems,
    };
  }
}

/** The agent's heard audio placed on the call timeline, silence in between. */
function agentTrack(caller: TwilioCaller): Buffer {
  const segments = caller.playback.segments;
  const end = segments.reduce(
    (max, s) => Math.max(max, Math.ceil(s.atMs * MULAW_BYTES_PER_MS) + s.audio.length),
    0,
  );
  const track = Buffer.alloc(end, MULAW_SILENCE);
  for (const s of segments) s.audio.copy(track, Math.floor(s.atMs * MULAW_BYTES_PER_MS));
  return track;
}
