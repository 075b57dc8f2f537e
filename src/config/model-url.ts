import { UsageError } from '../errors.js';
import type { AgentConfig } from './schema.js';

/**
 * The model endpoint of the agent's engine: `--realtime-url` wins over the engine's variable
 * (`OPENAI_REALTIME_URL`, or `OPENAI_LIVE_URL` for `engine: live`), which wins over the agent file.
 */
export function resolveModelUrl(
  agent: AgentConfig,
  env: Readonly<Record<string, string | undefined>>,
  flag: string | undefined,
): string {
  const url =
    flag ??
    (agent.engine === 'live'
      ? (env.OPENAI_LIVE_URL ?? agent.live.url)
      : (env.OPENAI_REALTIME_URL ?? agent.realtime.url));
  const what = agent.engine === 'live' ? 'GPT-Live' : 'Realtime';
  if (!/^wss?:\/\/\S+$/.test(url)) throw new UsageError(`${what} URL must be ws:// or wss://, got "${url}"`);
  return url;
}

/**
 * An OpenAI REST endpoint beside a model endpoint: `wss://api.openai.com/v1/realtime` →
 * `https://api.openai.com/v1/<resource>` (ws → http), so a stand-in's URL points both at itself.
 */
export function apiUrlBeside(modelUrl: string, resource: string): string {
  const url = new URL(modelUrl);
  url.protocol = url.protocol === 'ws:' ? 'http:' : 'https:';
  url.pathname = /\/v1\//.test(url.pathname)
    ? url.pathname.replace(/\/v1\/.*$/, `/v1/${resource}`)
    : url.pathname.replace(/[^/]*\/?$/, resource);
  url.search = '';
  return url.toString();
}
