import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../errors.js';
import { scriptStepSchema } from '../simulate/script-file.js';

const toolExpectation = z.union([
  z.string().min(1),
  z.strictObject({
    name: z.string().min(1),
    args: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Arguments that must match: equal values, or "/regex/flags" for strings.'),
    output: z
      .string()
      .optional()
      .describe('A regex the tool’s answer must match ("/re/flags", or a bare pattern).'),
  }),
]);

const toolFault = z.strictObject({
  error: z.string().min(1).optional().describe('The tool fails with this message.'),
  timeout: z.boolean().optional().describe('The tool answers as a tool that timed out does.'),
  result: z.unknown().optional().describe('The tool answers this (JSON) instead of running.'),
  delay_ms: z.number().int().nonnegative().max(60_000).optional().describe('Answer after this long.'),
});

const callerTurn = z.union([
  z.strictObject({
    audio: z
      .string()
      .min(1)
      .describe('A recorded caller turn (.ulaw/.raw μ-law 8 kHz or .wav), relative to the suite file.'),
    text: z
      .string()
      .optional()
      .describe('What the caller says in it: the local model reports it as the transcript.'),
  }),
  z.strictObject({
    say: z
      .string()
      .min(1)
      .describe('Words a second Realtime session speaks as the caller (--model realtime only).'),
  }),
]);

export const scenarioSchema = z
  .strictObject({
    name: z.string().min(1),
    caller: z.array(callerTurn).default([]).describe('The caller turns, in order.'),
    persona: z
      .strictObject({
        goal: z.string().min(1).describe('What the simulated caller wants; it improvises toward it.'),
        max_turns: z.number().int().positive().max(20).default(4),
      })
      .optional()
      .describe(
        'After the caller turns: a simulated caller that listens and answers (--model realtime only).',
      ),
    script: z
      .array(scriptStepSchema)
      .default([])
      .describe('What the local model says and which tools it calls; a real model ignores it.'),
    tools: z
      .record(z.string(), toolFault)
      .optional()
      .describe('Fault injection by tool name: an error, a timeout, a canned result, a delay.'),
    replay_tools: z
      .string()
      .optional()
      .describe(
        'Answer tool calls from this cassette (written by --record-tools) without starting the MCP servers.',
      ),
    expect: z
      .strictObject({
        tools: z
          .array(toolExpectation)
          .optional()
          .describe('Tools called, in this order (others may come between).'),
        not_tools: z.array(z.string()).optional().describe('Tools that must not be called.'),
        said: z
          .array(z.string())
          .optional()
          .describe(
            'Regexes the agent’s words must match ("/re/flags" or a bare pattern, case-insensitive).',
          ),
        outcome: z.enum(['hangup', 'transfer', 'fallback']).optional(),
        max_turn_latency_ms: z.number().int().positive().optional(),
      })
      .default({}),
  })
  .refine((s) => s.caller.length > 0 || s.persona !== undefined, {
    message: 'give caller turns, a persona, or both',
    path: ['caller'],
  });

export const suiteSchema = z.strictObject({
  agent: z.string().min(1).describe('The agent file, relative to the suite file.'),
  model: z
    .enum(['local', 'realtime'])
    .optional()
    .describe('Default model (--model wins): local needs no key.'),
  scenarios: z.array(scenarioSchema).min(1),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type ToolFault = z.output<typeof toolFault>;

export interface Suite {
  file: string;
  dir: string;
  agent: string;
  model: 'local' | 'realtime' | undefined;
  scenarios: Scenario[];
}

/** Loads a suite file; problems are reported with file, line and field, like the agent file's. */
export function loadSuite(path: string, shown: string): Suite {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError([{ file: shown, path: '', message: 'cannot read the test suite: file not found' }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        file: shown,
        ...lines.linePos(e.pos[0]),
        path: '',
        message: e.message.split('\n')[0]!,
      })),
    );
  }
  const parsed = suiteSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const node = doc.getIn(issue.path as (string | number)[], true) as { range?: [number] } | undefined;
        const offset = node && (isMap(node) || 'range' in node) ? node.range?.[0] : undefined;
        return {
          file: shown,
          ...(offset === undefined ? {} : lines.linePos(offset)),
          path: issue.path.map(String).join('.'),
          message: issue.message,
        };
      }),
    );
  }
  return {
    file: path,
    dir: dirname(path),
    agent: resolve(dirname(path), parsed.data.agent),
    model: parsed.data.model,
    scenarios: parsed.data.scenarios,
  };
}

/** JSON Schema of the suite file, for editors. */
export function suiteJsonSchema(): Record<string, unknown> {
  return {
    title: 'voice-agent test suite',
    ...(z.toJSONSchema(suiteSchema, { io: 'input', unrepresentable: 'any' }) as object),
  };
}
