/** Every path the server answers, in one place. */
export const ROUTES = {
  incoming: '/voice/incoming',
  streamEnded: '/voice/stream-ended',
  dialEnded: '/voice/dial-ended',
  messageRecorded: '/voice/message-recorded',
  status: '/voice/status',
  media: '/voice/media',
  health: '/healthz',
  ready: '/readyz',
} as const;

/** `https://host` → `wss://host/voice/media` (`http` → `ws`, for local use). */
export function streamUrl(publicUrl: string): string {
  return publicUrl.replace(/^http/, 'ws') + ROUTES.media;
}

/** Normalises a public URL: scheme + host (+ path prefix), no trailing slash. */
export function normalizePublicUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new Error(`expected an http(s) URL, got ${parsed.protocol}`);
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
}
