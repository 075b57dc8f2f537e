import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadCallerAudio } from '../../audio/caller-audio.js';
import type { ToolSource } from '../../bridge/tool-ports.js';
import { loadAgent } from '../../config/load.js';
import { resolveModelUrl } from '../../config/model-url.js';
import { errorMessage, UsageError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { runSimulation, type SimulationReport, type SimulationTurn } from '../simulate/simulation.js';
import { type SimulatedModel, startSimulationTarget } from '../simulate/target.js';
import { CallerVoice, personaInstructions } from './caller-voice.js';
import { checkScenario } from './expect.js';
import type { Scenario, Suite } from './suite.js';
import { type Cassette, FaultyTools, RecordingTools, ReplayTools } from './tool-sources.js';

export interface ScenarioResult {
  name: string;
  /** 1-based, with --runs. */
  run: number;
  ok: boolean;
  problems: string[];
  durationMs: number;
  callSid?: string;
  report?: SimulationReport;
}

export interface RunSuiteOptions {
  suite: Suite;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  model: SimulatedModel;
  runs: number;
  /** With `realtime`: the endpoint (the agent's by default). */
  realtimeUrl?: string;
  /** Records of the simulated calls (undefined: not kept). */
  dataDir?: string;
  /** Replay every scenario's tools from this cassette (a scenario's own `replay_tools` wins). */
  replayTools?: string;
  /** Collects every tool call and answer of the run, for --record-tools. */
  recorded?: Cassette;
  onResult?(result: ScenarioResult): void;
}

/**
 * Runs every scenario of a suite as a simulated call over the real Twilio path (`simulate`), each in
 * its own agent with a throwaway scratch directory, and checks its expectations.
 */
export async function runSuite(options: RunSuiteOptions): Promise<ScenarioResult[]> {
  const { suite } = options;
  if (options.model === 'local') {
    const spoken = suite.scenarios.filter((s) => s.persona || s.caller.some((t) => 'say' in t));
    if (spoken.length)
      throw new UsageError(
        `${spoken.map((s) => `"${s.name}"`).join(', ')}: a caller that speaks text (say:, persona:) needs a real speech model; run with --model realtime (the local model cannot speak words)`,
      );
  }
  // every caller file is read before the first call, so a typo fails fast (exit 2)
  const recorded = new Map<Scenario, (SimulationTurn | { say: string })[]>();
  for (const scenario of suite.scenarios)
    recorded.set(
      scenario,
      scenario.caller.map((t) =>
        'say' in t
          ? { say: t.say }
          : { file: t.audio, audio: loadCallerAudio(resolve(suite.dir, t.audio), t.audio) },
      ),
    );
  const results: ScenarioResult[] = [];
  for (const scenario of suite.scenarios) {
    for (let run = 1; run <= options.runs; run++) {
      const result = await runScenario(options, scenario, recorded.get(scenario)!, run);
      results.push(result);
      options.onResult?.(result);
    }
  }
  return results;
}

async function runScenario(
  options: RunSuiteOptions,
  scenario: Scenario,
  callerTurns: (SimulationTurn | { say: string })[],
  run: number,
): Promise<ScenarioResult> {
  const started = performance.now();
  const scratchDir = mkdtempSync(join(tmpdir(), 'voice-agent-test-'));
  let voice: CallerVoice | undefined;
  try {
    const { agent } = loadAgent(options.suite.agent, { env: options.env, simulation: { scratchDir } });
    const cassettePath = scenario.replay_tools
      ? resolve(options.suite.dir, scenario.replay_tools)
      : options.replayTools;
    const replay = cassettePath ? readCassette(cassettePath) : undefined;
    const realtimeUrl = resolveModelUrl(agent, options.env, options.realtimeUrl);
    // text turns and personas are spoken by a second Realtime session acting as the caller
    if (scenario.persona || callerTurns.some((t) => 'say' in t))
      voice = await CallerVoice.open({
        url:
          agent.engine === 'realtime' ? realtimeUrl : (options.env.OPENAI_REALTIME_URL ?? agent.realtime.url),
        model: agent.model,
        apiKey: options.env.OPENAI_API_KEY ?? '',
        instructions: personaInstructions(scenario.persona?.goal ?? 'say the lines you are given'),
      });
    const turns: SimulationTurn[] = [];
    for (const t of callerTurns)
      turns.push('say' in t ? { file: `say: "${t.say}"`, audio: await voice!.say(t.say) } : t);
    const nextTurn =
      scenario.persona && voice
        ? personaTurns(voice, callerTurns.length + scenario.persona.max_turns)
        : undefined;
    const toolSource = (pool: ToolSource) => toolsFor(pool, replay, options.recorded, scenario);
    const target = await startSimulationTarget({
      agent,
      env: options.env,
      logger: options.logger,
      model: options.model,
      script: scenario.script,
      callerTranscripts: scenario.caller.map((t) => ('say' in t ? t.say : (t.text ?? ''))),
      realtimeUrl,
      dataDir: agent.records.enabled ? options.dataDir : undefined,
      toolSource,
      startMcpServers: !replay,
    });
    let report: SimulationReport;
    try {
      ({ report } = await runSimulation({
        webhookUrl: target.webhookUrl,
        authToken: target.authToken,
        turns,
        speed: options.model === 'local' ? 4 : 1,
        turnGapS: 15,
        tailS: 1,
        expectGreeting: Boolean(agent.greeting),
        logOf: (sid) => target.logOf(sid),
        busy: () => target.busy(),
        ...(nextTurn ? { nextTurn } : {}),
      }));
    } finally {
      await target.close();
    }
    const problems = checkScenario(report, scenario.expect);
    return {
      name: scenario.name,
      run,
      ok: problems.length === 0,
      problems,
      durationMs: Math.round(performance.now() - started),
      callSid: report.call_sid,
      report,
    };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    return {
      name: scenario.name,
      run,
      ok: false,
      problems: [errorMessage(error)],
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    voice?.close();
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

/** A persona's next line, composed from what the agent just said, until it says goodbye or runs out of turns. */
function personaTurns(voice: CallerVoice, maxTurns: number) {
  let saidGoodbye = false;
  return async (agentSaid: Buffer, turnsSoFar: number): Promise<SimulationTurn | undefined> => {
    if (saidGoodbye || turnsSoFar >= maxTurns) return undefined;
    const { audio, transcript } = await voice.reply(agentSaid);
    saidGoodbye = /\b(good ?bye|bye)\b/i.test(transcript);
    return { file: `persona: "${transcript || '…'}"`, audio };
  };
}

/** Where a scenario's tools answer from: a cassette, or the real servers (recorded), with its faults on top. */
function toolsFor(
  pool: ToolSource,
  replay: Cassette | undefined,
  recorded: Cassette | undefined,
  scenario: Scenario,
): ToolSource {
  let source: ToolSource = replay ? new ReplayTools(replay) : pool;
  if (recorded && !replay) source = new RecordingTools(source, recorded);
  if (scenario.tools) source = new FaultyTools(source, scenario.tools);
  return source;
}

export function readCassette(path: string): Cassette {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `tool cassette ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not valid JSON'}`,
    );
  }
  const c = data as Partial<Cassette>;
  if (c?.version !== 1 || !Array.isArray(c.tools) || !Array.isArray(c.calls))
    throw new UsageError(
      `tool cassette ${path}: not a cassette written by --record-tools (version 1, tools, calls)`,
    );
  return c as Cassette;
}
