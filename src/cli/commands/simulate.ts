import type { CliIo } from '../io.js';
import { notImplemented } from '../program.js';

export async function simulateCommand(
  _io: CliIo,
  _agent: string,
  _options: Record<string, unknown>,
): Promise<void> {
  notImplemented('simulate');
}
