import { isDeepStrictEqual } from 'node:util';
import { argumentsObject } from '../../tools/tool-arguments.js';
import { parseTextExpectation } from '../simulate/expectations.js';
import type { SimulationReport } from '../simulate/simulation.js';
import type { Scenario } from './suite.js';

/** The problems a fallback produces, which a scenario expecting the fallback does not count. */
const FALLBACK_PROBLEM = /^the call failed|played its fallback/;

/** How the call ended, in the suite's words. */
export function outcomeOf(report: SimulationReport): 'hangup' | 'transfer' | 'fallback' | 'unknown' {
  const server = report.outcome.server?.kind;
  if (server === 'completed') return 'hangup';
  if (server === 'transfer') return 'transfer';
  if (server === 'failed') return 'fallback';
  const next = report.outcome.next.kind;
  return next === 'hangup'
    ? 'hangup'
    : next === 'dial'
      ? 'transfer'
      : next === 'say'
        ? 'fallback'
        : 'unknown';
}

/** Every way the call missed the scenario's expectations, each saying what was expected and seen. */
export function checkScenario(report: SimulationReport, expect: Scenario['expect']): string[] {
  const problems = report.problems.filter(
    (p) => !(expect.outcome === 'fallback' && FALLBACK_PROBLEM.test(p)),
  );
  const calls = report.tool_calls.map((c) => ({
    name: c.name,
    args: argumentsObject(c.arguments),
    output: c.output,
  }));
  const seen = calls.length ? calls.map((c) => c.name).join(', ') : 'no tool';
  let from = 0;
  for (const wanted of expect.tools ?? []) {
    const name = typeof wanted === 'string' ? wanted : wanted.name;
    const args = typeof wanted === 'string' ? undefined : wanted.args;
    const output =
      typeof wanted === 'string' || !wanted.output ? undefined : parseTextExpectation(wanted.output);
    const index = calls.findIndex(
      (c, i) =>
        i >= from &&
        c.name === name &&
        (!args || argsMatch(c.args, args)) &&
        (!output || output.test(c.output)),
    );
    if (index < 0) {
      const answers = calls.filter((c) => c.name === name).map((c) => c.output.slice(0, 120));
      problems.push(
        `expected a call to ${name}${args ? ` with ${JSON.stringify(args)}` : ''}${output ? ` answering ${output}` : ''}${from > 0 ? ' after the tools before it' : ''}; the agent called: ${seen}${output && answers.length ? ` (answers: ${answers.join(' / ')})` : ''}`,
      );
      continue;
    }
    from = index + 1;
  }
  for (const name of expect.not_tools ?? [])
    if (calls.some((c) => c.name === name))
      problems.push(`expected no call to ${name}; the agent called: ${seen}`);
  const said = report.transcript.filter((t) => t.role === 'agent').map((t) => t.text);
  for (const text of expect.said ?? []) {
    const pattern = parseTextExpectation(text);
    if (!said.some((s) => pattern.test(s)))
      problems.push(
        `expected the agent to say something matching ${pattern}; it said: ${said.length ? said.map((s) => `"${s}"`).join(' / ') : 'nothing'}`,
      );
  }
  if (expect.outcome) {
    const got = outcomeOf(report);
    if (got !== expect.outcome)
      problems.push(`expected the call to end with ${expect.outcome}; it ended with ${got}`);
  }
  if (expect.max_turn_latency_ms !== undefined) {
    for (const turn of report.latency.turns)
      if (turn.latency_ms !== null && turn.latency_ms > expect.max_turn_latency_ms)
        problems.push(
          `turn ${turn.turn}: the agent answered after ${turn.latency_ms} ms, more than max_turn_latency_ms ${expect.max_turn_latency_ms}`,
        );
  }
  return problems;
}

/** Every expected argument is there: equal, or a string matching "/regex/flags". */
function argsMatch(actual: Record<string, unknown>, expected: Record<string, unknown>): boolean {
  return Object.entries(expected).every(([key, want]) => {
    const got = actual[key];
    if (typeof want === 'string' && /^\/.+\/[a-z]*$/s.test(want))
      return typeof got === 'string' && parseTextExpectation(want).test(got);
    return isDeepStrictEqual(got, want);
  });
}
