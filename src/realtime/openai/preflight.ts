import WebSocket from 'ws';
import { PeerError } from '../../errors.js';
import { HANDSHAKE_MESSAGES, realtimeUrl } from './connection.js';

export const PREFLIGHT_TIMEOUT_MS = 10_000;

/**
 * The start-up check of `serve`: one short-lived Realtime connection with the agent's key and
 * model, closed as soon as the service accepts it (nothing is sent, so nothing is billed). It turns
 * the commonest production mistake — a wrong, expired or project-scoped key, or an unreachable
 * endpoint — into a clear error before the first caller hears the fallback.
 */
export function checkRealtime(options: {
  url: string;
  model: string;
  apiKey: string;
  timeoutMs?: number;
}): Promise<void> {
  const host = new URL(options.url).host;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(realtimeUrl(options.url, options.model), {
      headers: { Authorization: `Bearer ${options.apiKey}` },
      handshakeTimeout: options.timeoutMs ?? PREFLIGHT_TIMEOUT_MS,
      followRedirects: false,
      perMessageDeflate: false,
    });
    let failure: string | undefined;
    socket.on('open', () => {
      socket.close(1000, 'preflight');
      resolve();
    });
    socket.on('unexpected-response', (_req, res) => {
      failure =
        HANDSHAKE_MESSAGES[res.statusCode ?? 0] ?? `OpenAI refused the connection (HTTP ${res.statusCode})`;
      res.resume();
      socket.terminate();
    });
    socket.on('error', (error) => {
      failure ??= `cannot reach OpenAI Realtime at ${host}: ${error.message}`;
    });
    socket.on('close', () => {
      if (failure) reject(new PeerError('openai', 'realtime_preflight_failed', failure));
    });
  });
}
