import { UsageError } from '../../errors.js';
import type { SimulationReport } from './simulation.js';

/**
 * `--expect-tool NAME` and `--expect-text REGEX`: turn a simulation into a regression test. Each
 * unmet expectation becomes a problem that shows what was expected and what actually happened.
 */

/** `/pattern/flags` or a bare pattern (matched case-insensitively). */
export function parseTextExpectation(text: string): RegExp {
  const literal = text.match(/^\/(.+)\/([a-z]*)$/s);
  try {
    return literal ? new RegExp(literal[1]!, literal[2]) : new RegExp(text, 'i');
  } catch (error) {
    throw new UsageError(
      `--expect-text ${text}: not a valid regular expression (${(error as Error).message})`,
    );
  }
}

export function checkExpectations(
  report: SimulationReport,
  expected: { tools: readonly string[]; texts: readonly RegExp[] },
): string[] {
  const problems: string[] = [];
  const called = report.tool_calls.map((c) => c.name);
  for (const tool of expected.tools) {
    if (!called.includes(tool)) {
      problems.push(
        `expected the agent to call "${tool}"; it called ${called.length ? called.map((c) => `"${c}"`).join(', ') : 'no tool'}`,
      );
    }
  }
  const said = report.transcript.filter((t) => t.role === 'agent').map((t) => t.text);
  for (const pattern of expected.texts) {
    if (!said.some((s) => pattern.test(s))) {
      const heard = said.length ? said.map((s) => `\n      - "${s}"`).join('') : ' nothing';
      problems.push(`expected the agent to say something matching ${pattern}; it said:${heard}`);
    }
  }
  return problems;
}
