import { PeerError } from '../errors.js';
import type { Tunnel, TunnelProvider } from './types.js';

/** How long to wait for the localtunnel server to hand out a URL (its client retries forever). */
export const TUNNEL_OPEN_TIMEOUT_MS = 20_000;
/** The localtunnel client's own default server. */
const DEFAULT_LOCALTUNNEL_HOST = 'https://localtunnel.me';
const PROBE_TIMEOUT_MS = 10_000;

/** Any HTTP answer means the tunnel server is there; no answer is a clear error. */
async function probeTunnelServer(host: string): Promise<void> {
  try {
    const res = await fetch(host, { method: 'HEAD', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${PROBE_TIMEOUT_MS / 1000} s`
        : (cause ?? (error as Error).message);
    throw new PeerError(
      'tunnel',
      'tunnel_unreachable',
      `cannot reach the tunnel server at ${host} (${reason}): check the network, or use --public-url with your own proxy`,
      error,
    );
  }
}

/**
 * localtunnel (loca.lt by default; `LOCALTUNNEL_HOST` points it at another localtunnel server).
 * Best effort: it is a volunteer-run service, its leg to this machine is plain TCP, and it is known
 * to drop long-lived streams. Prefer `--public-url` with your own proxy or ngrok for production.
 */
export function localtunnelProvider(options: { host?: string } = {}): TunnelProvider {
  return {
    name: 'localtunnel',
    async open({ port }) {
      // the client retries an unreachable server every second forever, and close() does not stop it:
      // ask the server ourselves first, so an outage or no network fails cleanly and leaves nothing
      await probeTunnelServer(options.host ?? DEFAULT_LOCALTUNNEL_HOST);
      const { default: localtunnel } = await import('localtunnel');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new PeerError(
                'tunnel',
                'tunnel_timeout',
                `the tunnel server${options.host ? ` at ${options.host}` : ''} did not answer within ${TUNNEL_OPEN_TIMEOUT_MS / 1000} s`,
              ),
            ),
          TUNNEL_OPEN_TIMEOUT_MS,
        );
        timer.unref();
      });
      // bind to 127.0.0.1, not "localhost" (which may resolve to ::1 on Node >= 17)
      const opening = localtunnel({
        port,
        local_host: '127.0.0.1',
        ...(options.host ? { host: options.host } : {}),
      });
      let lt: Awaited<ReturnType<typeof localtunnel>>;
      try {
        lt = await Promise.race([opening, timeout]);
      } catch (error) {
        opening.then((t) => t.close()).catch(() => undefined);
        if (error instanceof PeerError) throw error;
        throw new PeerError(
          'tunnel',
          'tunnel_failed',
          `could not open a localtunnel: ${(error as Error).message}`,
          error,
        );
      } finally {
        clearTimeout(timer);
      }
      const listeners: ((reason: string) => void)[] = [];
      let closedByUs = false;
      lt.on('close', () => {
        if (!closedByUs) for (const l of listeners) l('the tunnel closed');
      });
      lt.on('error', (err: Error) => {
        for (const l of listeners) l(`tunnel error: ${err.message}`);
      });
      const tunnel: Tunnel = {
        url: lt.url.replace(/\/+$/, ''),
        onClose: (listener) => listeners.push(listener),
        async close() {
          closedByUs = true;
          lt.close();
        },
      };
      return tunnel;
    },
  };
}
