import { localtunnelProvider } from './localtunnel.js';
import type { TunnelProvider } from './types.js';

export type { Tunnel, TunnelProvider } from './types.js';

/** The provider `--tunnel` uses. Only localtunnel is built in; add others here. */
export function tunnelProviderFromEnv(env: Readonly<Record<string, string | undefined>>): TunnelProvider {
  return localtunnelProvider({ host: env.LOCALTUNNEL_HOST });
}
