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

/** `--port` (or another port flag): 0–65535, 0 for any free port. */
export function parsePort(text: string, flag = '--port'): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`${flag}: expected 0–65535, got "${text}"`);
  return port;
}

/** `--public-url`: https, since Twilio opens media streams only over wss (http only for loopback tests). */
export function parsePublicUrl(text: string): string {
  const url = parseBaseUrl('--public-url', text);
  const { protocol, hostname } = new URL(url);
  if (protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
    throw new UsageError(
      `--public-url must be https:// (Twilio opens media streams only over wss://), got "${text}"`,
    );
  }
  return url;
}

/** `--model` of simulate and test: the local stand-in or the real Realtime API. */
export function parseModel(text: string): 'local' | 'realtime' {
  if (text === 'local' || text === 'realtime') return text;
  throw new UsageError(`--model: expected local or realtime, got "${text}"`);
}
