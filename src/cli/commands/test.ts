import { writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { environmentWithDotenv } from '../../config/load.js';
import { UsageError, VoiceAgentError } from '../../errors.js';
import { junitXml } from '../../lab/suites/junit.js';
import { runSuite, type ScenarioResult } from '../../lab/suites/run-suite.js';
import { loadSuite } from '../../lab/suites/suite.js';
import type { Cassette } from '../../lab/suites/tool-sources.js';
import { createLogger } from '../../observability/logger.js';
import { dataDir } from '../../records/open.js';
import { type CliIo, colours, printJson } from '../io.js';
import { parseModel } from '../options.js';

export interface TestOptions {
  model?: string;
  runs: string;
  junit?: string;
  json?: boolean;
  recordTools?: string;
  replayTools?: string;
  realtimeUrl?: string;
  dataDir?: string;
}

/**
 * `voice-agent test suite.yaml`: every scenario as a simulated call through the real server path;
 * exit 0 only if all pass. With --runs N each scenario runs N times and the pass rate is reported
 * (a real model is not deterministic).
 */
export async function testCommand(io: CliIo, file: string, options: TestOptions): Promise<void> {
  const runs = Number(options.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100)
    throw new UsageError(`--runs: expected 1–100, got "${options.runs}"`);
  if (options.recordTools && options.replayTools)
    throw new UsageError('--record-tools and --replay-tools together would record the cassette it replays');
  const suite = loadSuite(resolve(io.cwd, file), file);
  const model = parseModel(options.model ?? suite.model ?? 'local');
  const env = environmentWithDotenv(io.cwd, io.env);
  if (model === 'realtime' && !env.OPENAI_API_KEY)
    throw new UsageError(
      'OPENAI_API_KEY is not set: --model realtime calls OpenAI. Without a key, --model local runs the suite on the built-in stand-in.',
      'missing_env',
    );
  const c = colours(io);
  const recorded: Cassette | undefined = options.recordTools
    ? { version: 1, tools: [], calls: [] }
    : undefined;
  const logger = createLogger({ level: 'error', write: (line) => io.stderr.write(line) });
  const results = await runSuite({
    suite,
    env,
    logger,
    model,
    runs,
    realtimeUrl: options.realtimeUrl,
    dataDir: dataDir(env, options.dataDir, io.cwd),
    replayTools: options.replayTools ? resolve(io.cwd, options.replayTools) : undefined,
    recorded,
    onResult: (r) => {
      if (options.json) return;
      const label = runs > 1 ? `${r.name} (run ${r.run})` : r.name;
      io.stdout.write(
        `${r.ok ? c.green('✓') : c.red('✗')} ${label} ${c.dim(`${(r.durationMs / 1000).toFixed(1)} s`)}\n`,
      );
      for (const p of r.problems) io.stdout.write(`    ${p}\n`);
    },
  });
  if (recorded && options.recordTools)
    writeFileSync(resolve(io.cwd, options.recordTools), `${JSON.stringify(recorded, null, 2)}\n`);
  const name = basename(file).replace(/\.ya?ml$/, '');
  if (options.junit) writeFileSync(resolve(io.cwd, options.junit), junitXml(name, results));
  const summary = summarise(results);
  if (options.json)
    printJson(io, { suite: file, model, runs, ...summary, results: results.map(withoutReport) });
  else {
    io.stdout.write(
      `\n${summary.passed} of ${summary.total} passed` +
        (runs > 1
          ? ` · pass rate by scenario: ${summary.scenarios.map((s) => `${s.name} ${Math.round(s.passRate * 100)}%`).join(', ')}`
          : '') +
        ` (model: ${model})\n`,
    );
    if (options.recordTools) io.stdout.write(`Tool calls recorded to ${options.recordTools}\n`);
    if (options.junit) io.stdout.write(`JUnit report written to ${options.junit}\n`);
  }
  if (summary.passed !== summary.total)
    throw new VoiceAgentError(
      'tests_failed',
      `${summary.total - summary.passed} of ${summary.total} scenario runs failed`,
    );
}

function summarise(results: ScenarioResult[]) {
  const names = [...new Set(results.map((r) => r.name))];
  return {
    total: results.length,
    passed: results.filter((r) => r.ok).length,
    scenarios: names.map((name) => {
      const mine = results.filter((r) => r.name === name);
      return { name, runs: mine.length, passRate: mine.filter((r) => r.ok).length / mine.length };
    }),
  };
}

function withoutReport({ report, ...rest }: ScenarioResult) {
  return {
    ...rest,
    ...(report
      ? {
          transcript: report.transcript,
          tool_calls: report.tool_calls,
          latency: report.latency,
          outcome: report.outcome,
        }
      : {}),
  };
}
