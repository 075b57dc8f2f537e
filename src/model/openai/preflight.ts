import { PeerError } from '../../errors.js';
import { handshakeFailure, openRealtimeSocket, unreachable } from './connection.js';

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
  return new Promise((resolve, reject) => {
    const socket = openRealtimeSocket({
      ...options,
      handshakeTimeoutMs: options.timeoutMs ?? PREFLIGHT_TIMEOUT_MS,
    });
    let failure: string | undefined;
    socket.on('open', () => {
      socket.close(1000, 'preflight');
      resolve();
    });
    socket.on('unexpected-response', (_req, res) => {
      failure = handshakeFailure(res.statusCode ?? 0).message;
      res.resume();
      socket.terminate();
    });
    socket.on('error', (error) => {
      failure ??= unreachable(options.url, error).message;
    });
    socket.on('close', () => {
      if (failure) reject(new PeerError('openai', 'realtime_preflight_failed', failure));
    });
  });
}
