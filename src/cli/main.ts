import { CommanderError } from 'commander';
import { VoiceAgentError } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, exitCodeFor } from './exit-codes.js';
import { type CliIo, colours, processIo } from './io.js';
import { createProgram } from './program.js';

/**
 * Runs the CLI and resolves to the exit code. The one top-level catch: user mistakes and peer
 * failures print one clear message; only a genuine bug prints a stack (with VOICE_AGENT_DEBUG=1).
 */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync(argv as string[]);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (['commander.help', 'commander.helpDisplayed', 'commander.version'].includes(error.code))
        return EXIT_OK;
      return EXIT_USAGE; // commander already printed the message
    }
    const c = colours(io, 'stderr');
    if (argv.includes('--json-logs')) {
      // the promise of --json-logs: nothing but JSON lines, the last one included
      const known = error instanceof VoiceAgentError;
      io.stderr.write(
        `${JSON.stringify({
          level: 'error',
          time: new Date().toISOString(),
          msg: known ? error.message : `internal error: ${(error as Error)?.message ?? String(error)}`,
          ...(known ? { code: error.code } : {}),
        })}\n`,
      );
      return known ? exitCodeFor(error) : EXIT_FAILURE;
    }
    if (error instanceof VoiceAgentError) {
      io.stderr.write(`${c.red('error:')} ${error.message}\n`);
      return exitCodeFor(error);
    }
    io.stderr.write(`${c.red('internal error:')} ${(error as Error)?.message ?? String(error)}\n`);
    if (io.env.VOICE_AGENT_DEBUG) io.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    else io.stderr.write('Set VOICE_AGENT_DEBUG=1 for details, and please report it.\n');
    return EXIT_FAILURE;
  }
}

/** How long a finished command may wait for stray handles before the process exits anyway. */
const FORCED_EXIT_AFTER_MS = 2_000;

/** Entry point used by bin/voice-agent.js. */
export function main(argv: readonly string[]): void {
  // output piped into a reader that stopped (`| head`): the rest is not wanted, and no stack either
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
      throw error;
    });
  const exit = (code: number) => {
    process.exitCode = code;
    // the command is over: a library handle left behind (a retry timer, a socket) must not keep the
    // process up. Unref'd, this never delays a normal exit.
    setTimeout(() => process.exit(code), FORCED_EXIT_AFTER_MS).unref();
  };
  run(argv).then(exit, () => exit(EXIT_FAILURE));
}
