import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../../errors.js';
import type { ScriptStep } from '../openai/brain.js';

export const scriptStepSchema = z.union([
  z.strictObject({ say: z.string().min(1).describe('What the local model says.') }),
  z.strictObject({
    call: z.string().min(1).describe('A tool the local model calls (MCP or built-in, e.g. end_call).'),
    args: z.record(z.string(), z.unknown()).optional().describe('Its arguments.'),
  }),
  z.strictObject({
    wait: z.literal('caller').describe("Hold the rest of the script until the caller's next turn."),
  }),
]);

/** A `--script` file: a YAML list of steps (`- say: …`, `- call: tool` with `args`). */
export function loadScript(path: string, shown: string): ScriptStep[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`--script ${shown}: file not found`);
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (error) {
    throw new UsageError(`--script ${shown}: not valid YAML: ${(error as Error).message}`);
  }
  const result = z.array(scriptStepSchema).safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new UsageError(
      `--script ${shown}: step ${issue.path.map(String).join('.') || '(top)'}: expected "- say: text", "- call: tool" with optional args, or "- wait: caller" (${issue.message})`,
    );
  }
  return result.data;
}
