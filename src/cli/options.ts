import { UsageError } from '../errors.js';
import { normalizePublicUrl } from '../host/http/routes.js';

/** Option and environment parsing shared by the commands; every failure is a usage error (exit 2). */

export function requireEnv(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  why: string,
): string {
  const value = env[name];
  if (!value)
    throw new UsageError(`${name} is not set: ${why}. Set it in the environment or in .env.`, 'missing_env');
  return value;
}

/** A public base URL given on the command line, normalised (no trailing slash). */
export function parseBaseUrl(flag: string, text: string): string {
  try {
    return normalizePublicUrl(text);
  } catch {
    throw new UsageError(`${flag}: expected an http(s) URL, got "${text}"`);
  }
}
