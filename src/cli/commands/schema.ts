import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { agentJsonSchema } from '../../config/schema.js';
import { UsageError } from '../../errors.js';
import type { CliIo } from '../io.js';

export function schemaText(): string {
  return `${JSON.stringify(agentJsonSchema(), null, 2)}\n`;
}

export async function schemaCommand(io: CliIo, options: { out?: string }): Promise<void> {
  if (!options.out) {
    io.stdout.write(schemaText());
    return;
  }
  try {
    writeFileSync(resolve(io.cwd, options.out), schemaText());
  } catch (error) {
    throw new UsageError(`cannot write ${options.out}: ${(error as Error).message}`);
  }
  io.stderr.write(`wrote ${options.out}\n`);
}
