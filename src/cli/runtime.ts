import type { AgentConfig } from '../config/schema.js';
import { UsageError } from '../errors.js';

/** `--realtime-url` wins over `OPENAI_REALTIME_URL`, which wins over the agent file. */
export function resolveRealtimeUrl(
  agent: AgentConfig,
  env: Readonly<Record<string, string | undefined>>,
  flag: string | undefined,
): string {
  const url = flag ?? env.OPENAI_REALTIME_URL ?? agent.realtime.url;
  if (!/^wss?:\/\/\S+$/.test(url)) throw new UsageError(`Realtime URL must be ws:// or wss://, got "${url}"`);
  return url;
}

/** Resolves with the first SIGINT/SIGTERM; a second one exits at once. */
export function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const force = () => process.exit(130);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
