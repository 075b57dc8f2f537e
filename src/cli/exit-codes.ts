import { VoiceAgentError } from '../errors.js';

/** Exit codes across the CLI. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function exitCodeFor(error: unknown): number {
  if (error instanceof VoiceAgentError) return error.kind === 'user' ? EXIT_USAGE : EXIT_FAILURE;
  return EXIT_FAILURE;
}
