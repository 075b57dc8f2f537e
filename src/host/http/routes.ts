import { VOICE_ROUTES } from '../../telephony/twilio/routes.js';

export { streamUrl } from '../../telephony/twilio/routes.js';

/** Every path the server answers, in one place. */
export const ROUTES = {
  ...VOICE_ROUTES,
  health: '/healthz',
  ready: '/readyz',
} as const;

/** Normalises a public URL: scheme + host (+ path prefix), no trailing slash. */
export function normalizePublicUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new Error(`expected an http(s) URL, got ${parsed.protocol}`);
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
}
