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
  const agentAudioEvents: number[] = [];
  const caller = new TwilioCaller({
    webhookUrl: options.webhookUrl,
    authToken: options.authToken,
    speed: options.speed,
    onEvent: (e: CallerEvent) => {
      if (e.type === 'agent-audio') agentAudioEvents.push(e.atMs);
    },
  });
  const problems: string[] = [];
  const turnsReport: SimulationReport['latency']['turns'] = [];
  let turnIndex = 0;
  let callerSpeaking = false;
  const progress = setInterval(() => {
    const now = caller.now();
    const agentSpeaking = (agentAudioEvents.at(-1) ?? Number.NEGATIVE_INFINITY) > now - 300;
    options.onProgress?.({
      callMs: now,
      turn: turnIndex,
      turns: options.turns.length,
      speaking: callerSpeaking ? 'caller' : agentSpeaking ? 'agent' : undefined,
    });
  }, 200);
  progress.unref();
  const firstAudioAfter = (t: number) => agentAudioEvents.find((at) => at >= t) ?? null;
  const wall = (callMs: number) => Math.round(callMs / options.speed);
  let endedBy: SimulationReport['outcome']['ended_by'] = 'caller';
  /** While a tool runs, the answer is still coming: wait for it (bounded by the turn gap). */
  const waitWhileBusy = async () => {
    if (!options.busy?.()) return;
    const until = caller.now() + options.turnGapS * 1000 * options.speed;
    while (caller.open && options.busy() && caller.now() < until) await caller.pause(FRAME_MS * 5);
    // the answer to the tool's output comes after it (a filler before does not count)
    const done = caller.now();
    while (caller.open && firstAudioAfter(done) === null && caller.now() < until)
      await caller.pause(FRAME_MS);
    if (caller.open) await caller.waitForAgent({ timeoutMs: options.turnGapS * 1000 });
  };
  let firstTurnAt: number | undefined;

  try {
    await caller.dial();
    const gapMs = options.turnGapS * 1000;
    if (options.expectGreeting) {
      await caller.waitForAgent({
        timeoutMs: gapMs,
        ...(options.expectGreeting === 'maybe' ? { startWithinMs: 3000 } : {}),
      });
    }
    // the recorded turns, then any the caller composes live from what the agent said (a persona)
    let agentHeardFrom = 0;
    const turns = async function* () {
      yield* options.turns;
      if (!options.nextTurn) return;
      while (caller.open) {
        const said = caller.playback.segments
          .filter((seg) => seg.atMs >= agentHeardFrom)
          .map((seg) => seg.audio);
        const next = await options.nextTurn(Buffer.concat(said), turnIndex);
        if (!next) return;
        yield next;
      }
    };
    for await (const turn of turns()) {
      if (!caller.open) break;
      turnIndex++;
      const startedAt = caller.now();
      firstTurnAt ??= startedAt;
      callerSpeaking = true;
      await caller.speak(turn.audio).finally(() => {
        callerSpeaking = false;
      });
      const speechMs = speechEndOffsetMs(turn.audio);
      const speechEnd = startedAt + speechMs;
      agentHeardFrom = caller.now();
      await caller.waitForAgent({ timeoutMs: gapMs });
      await waitWhileBusy();
      const first = firstAudioAfter(speechEnd);
      turnsReport.push({
        turn: turnIndex,
        file: turn.file,
        speech_end_ms: Math.round(speechEnd),
        first_agent_audio_ms: first === null ? null : Math.round(first),
        latency_ms: first === null ? null : wall(first - speechEnd),
      });
      // a turn of silence is allowed to go unanswered
      if (first === null && caller.open && speechMs > 0) {
        problems.push(
          `turn ${turnIndex} (${turn.file}): the agent did not answer within ${options.turnGapS} s`,
        );
      }
    }
    await waitWhileBusy();
    if (caller.open) await caller.pause(options.tailS * 1000);
    if (caller.open) await caller.hangUp();
    else endedBy = 'agent';
  } catch (error) {
    if (!(error instanceof CallFailedError)) throw error;
    endedBy = 'error';
    problems.push(error.message);
  } finally {
    clearInterval(progress);
  }
  const next = await caller.outcome();
  const durationMs = caller.now();
  if (next.kind === 'error' && !problems.includes(next.message))
    problems.push(`after the stream: ${next.message}`);
  for (const v of caller.violations) problems.push(`protocol: ${v}`);

  const session = options.logOf ? await options.logOf(caller.callSid) : undefined;
  const streamAt = caller.streamStartedAt ?? 0;
  const toCallTime = (sessionMs: number) => Math.round(streamAt + sessionMs * options.speed);
  if (session?.outcome?.kind === 'failed') problems.push(`the call failed: ${session.outcome.reason}`);
  if (!session && endedBy === 'agent' && next.kind === 'say') {
    problems.push(`the server ended the stream and played its fallback: "${next.text}"`);
  }
  const greetingAudio = firstAudioAfter(streamAt);
  const report: SimulationReport = {
    ok: problems.length === 0,
    call_sid: caller.callSid,
    outcome: {
      ended_by: endedBy,
      next,
      ...(session?.outcome ? { server: { kind: session.outcome.kind, reason: session.outcome.reason } } : {}),
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
        greetingAudio !== null && (firstTurnAt === undefined || greetingAudio < firstTurnAt)
          ? wall(greetingAudio - streamAt)
          : null,
      turns: turnsReport,
    },
    agent_audio_ms: Math.round(caller.playback.heardMs(durationMs)),
    problems,
  };
  return { report, agentAudio: agentTrack(caller) };
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
