import { UsageError } from '../errors.js';

/** `serve`'s flags as commander gives them (text, as typed). */
export interface ServeFlags {
  port: string;
  host?: string;
  publicUrl?: string;
  realtimeUrl?: string;
  insecureSkipSignature?: boolean;
  tunnel?: boolean;
  configureNumber?: string | boolean;
  drainTimeout: string;
  logLevel: string;
  jsonLogs?: boolean;
  skipPreflight?: boolean;
  dataDir?: string;
  metricsPort?: string;
  metricsHost: string;
  workers: string;
}

/**
 * `serve` reads every setting from the environment too, so a container needs no flags: a flag wins
 * over its variable, which wins over the default. (`--insecure-skip-signature` has no variable: it
 * should never be on by accident. `--data-dir` has VOICE_AGENT_DATA_DIR, `--realtime-url` the
 * engine's OPENAI_*_URL.)
 */
export const SERVE_ENV = [
  ['port', 'VOICE_AGENT_PORT', 'text'],
  ['host', 'VOICE_AGENT_HOST', 'text'],
  ['publicUrl', 'VOICE_AGENT_PUBLIC_URL', 'text'],
  ['tunnel', 'VOICE_AGENT_TUNNEL', 'flag'],
  ['configureNumber', 'VOICE_AGENT_CONFIGURE_NUMBER', 'text'],
  ['drainTimeout', 'VOICE_AGENT_DRAIN_TIMEOUT', 'text'],
  ['skipPreflight', 'VOICE_AGENT_SKIP_PREFLIGHT', 'flag'],
  ['metricsPort', 'VOICE_AGENT_METRICS_PORT', 'text'],
  ['metricsHost', 'VOICE_AGENT_METRICS_HOST', 'text'],
  ['logLevel', 'VOICE_AGENT_LOG_LEVEL', 'text'],
  ['jsonLogs', 'VOICE_AGENT_JSON_LOGS', 'flag'],
  ['workers', 'VOICE_AGENT_WORKERS', 'text'],
] as const satisfies readonly (readonly [keyof ServeFlags, string, 'text' | 'flag'])[];

/** The options with each one not given as a flag taken from its variable, when set. */
export function serveOptionsWithEnv(
  options: ServeFlags,
  env: Readonly<Record<string, string | undefined>>,
  fromFlag: (name: keyof ServeFlags) => boolean,
): ServeFlags {
  const merged: Record<string, unknown> = { ...options };
  for (const [name, variable, kind] of SERVE_ENV) {
    const value = env[variable];
    if (value === undefined || value === '' || fromFlag(name)) continue;
    merged[name] = kind === 'flag' ? flagValue(variable, value) : value;
  }
  return merged as unknown as ServeFlags;
}

function flagValue(variable: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new UsageError(`${variable}: expected true or false, got "${value}"`);
}
