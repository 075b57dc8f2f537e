import type { CliIo } from '../io.js';
import { notImplemented } from '../program.js';

export async function configureNumberCommand(
  _io: CliIo,
  _number: string | undefined,
  _options: Record<string, unknown>,
): Promise<void> {
  notImplemented('configure-number');
}
