/** The paths Twilio requests: webhooks (signed POSTs) and the Media Streams socket. */
export const VOICE_ROUTES = {
  incoming: '/voice/incoming',
  outbound: '/voice/outbound',
  answeredBy: '/voice/answered-by',
  streamEnded: '/voice/stream-ended',
  dialEnded: '/voice/dial-ended',
  whisper: '/voice/whisper',
  messageRecorded: '/voice/message-recorded',
  messageTranscribed: '/voice/message-transcribed',
  status: '/voice/status',
  media: '/voice/media',
} as const;

/** `https://host` → `wss://host/voice/media` (`http` → `ws`, for local use). */
export function streamUrl(publicUrl: string): string {
  return publicUrl.replace(/^http/, 'ws') + VOICE_ROUTES.media;
}
