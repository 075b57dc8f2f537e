import { stringify } from 'yaml';
import { argumentsObject } from '../tools/tool-arguments.js';
import type { CallRecord } from './call-record.js';

/**
 * A test scenario from a real call, so a bad production call becomes a regression test: the caller's
 * recorded turns (with what they said), a script that replays what the agent said and which tools it
 * called (for the local model), and the tools and outcome as expectations.
 */
export function scenarioFromRecord(record: CallRecord, turnFiles: string[]): Record<string, unknown> {
  const callerLines = record.transcript.filter((l) => l.role === 'caller');
  const firstCallerAt = callerLines[0]?.startMs ?? Number.POSITIVE_INFINITY;
  // the greeting is the agent file's own; everything the agent did after the caller spoke is replayed
  const steps = [
    ...record.transcript
      .filter((l) => l.role === 'agent' && l.startMs >= firstCallerAt)
      .map((l) => ({ at: l.startMs, step: { say: l.text } as Record<string, unknown> })),
    ...record.toolCalls.map((t) => ({
      at: t.atMs,
      step: { call: t.name, args: argumentsObject(t.arguments) },
    })),
  ].sort((a, b) => a.at - b.at);
  const outcome =
    record.outcome.kind === 'completed'
      ? 'hangup'
      : record.outcome.kind === 'transfer'
        ? 'transfer'
        : record.outcome.kind === 'failed'
          ? 'fallback'
          : undefined;
  return {
    name: `call ${record.callSid} (${record.startedAt.slice(0, 16).replace('T', ' ')})`,
    caller: turnFiles.map((audio, i) => ({
      audio,
      ...(callerLines[i] ? { text: callerLines[i]!.text } : {}),
    })),
    script: steps.map((s) => s.step),
    expect: {
      ...(record.toolCalls.length ? { tools: record.toolCalls.map((t) => t.name) } : {}),
      ...(outcome ? { outcome } : {}),
    },
  };
}

/** A whole suite file around one scenario. */
export function suiteYaml(agentPath: string, scenario: Record<string, unknown>): string {
  return `# A regression test from a real call: voice-agent test ${'<this file>'}\n${stringify({ agent: agentPath, scenarios: [scenario] })}`;
}
