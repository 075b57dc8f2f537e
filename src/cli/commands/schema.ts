import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { agentJsonSchema } from '../../config/schema.js';
import { UsageError } from '../../errors.js';
import { suiteJsonSchema } from '../../lab/suites/suite.js';
import type { CliIo } from '../io.js';

/** The agent file's JSON Schema, or with `suite` the test suite file's. */
export function schemaText(suite = false): string {
  return `${JSON.stringify(suite ? suiteJsonSchema() : agentJsonSchema(), null, 2)}\n`;
}

export async function schemaCommand(io: CliIo, options: { out?: string; suite?: boolean }): Promise<void> {
  if (!options.out) {
    io.stdout.write(schemaText(options.suite));
    return;
  }
  try {
    writeFileSync(resolve(io.cwd, options.out), schemaText(options.suite));
  } catch (error) {
    throw new UsageError(`cannot write ${options.out}: ${(error as Error).message}`);
  }
  io.stderr.write(`wrote ${options.out}\n`);
}
