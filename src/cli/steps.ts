import ora from 'ora';
import { loggedSteps } from '../host/steps.js';
import type { Logger } from '../observability/logger.js';
import type { CliIo } from './io.js';
import { canAnimate, colours } from './io.js';

/**
 * Runs a long step with a spinner on a terminal (ora), or a plain outcome line otherwise. The line
 * says what happened: `✓ MCP servers: moving (5 tools)` / `✗ tunnel: ...`.
 */
export async function step<T>(
  io: CliIo,
  text: string,
  run: () => Promise<T>,
  outcome: (value: T) => string,
  /** With JSON logs: the step becomes log lines, with no spinner or decoration. */
  jsonLog?: Logger,
): Promise<T> {
  if (jsonLog) return loggedSteps(jsonLog)(text, run, outcome);
  const c = colours(io, 'stderr');
  const spinner = canAnimate(io)
    ? ora({ text, stream: process.stderr, color: c.on ? 'cyan' : false }).start()
    : undefined;
  try {
    const value = await run();
    const done = `${text}: ${outcome(value)}`;
    if (spinner) spinner.succeed(done);
    else io.stderr.write(`${c.green('✓')} ${done}\n`);
    return value;
  } catch (error) {
    const failed = `${text}: failed`;
    if (spinner) spinner.fail(failed);
    else io.stderr.write(`${c.red('✗')} ${failed}\n`);
    throw error;
  }
}
