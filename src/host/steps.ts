import type { Logger } from '../observability/logger.js';

/**
 * How `startServe` reports a start-up step: runs `run`, and says `text: outcome(value)` when it is
 * done (the CLI draws a spinner; a library logs it).
 */
export type StepReporter = <T>(
  text: string,
  run: () => Promise<T>,
  outcome: (value: T) => string,
) => Promise<T>;

/** Steps as log lines. */
export function loggedSteps(logger: Logger): StepReporter {
  return async (text, run, outcome) => {
    try {
      const value = await run();
      logger.info(`${text}: ${outcome(value)}`);
      return value;
    } catch (error) {
      logger.error(`${text}: failed`);
      throw error;
    }
  };
}

/** Steps nobody is told about (a worker's: the primary reports the serve's). */
export const quietSteps: StepReporter = (_text, run) => run();
