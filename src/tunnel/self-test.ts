import { PeerError } from '../errors.js';

/**
 * Checks a tunnel end to end through `GET <url>/healthz`. loca.lt shows browsers a "tunnel password"
 * interstitial (HTML, often 401 or 511) instead of forwarding; Twilio's non-browser requests are
 * normally let through, but the gate has changed before, so we look for it with a browser-like agent.
 */
export async function selfTestTunnel(url: string, timeoutMs = 10_000): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${url}/healthz`, {
      headers: {
        'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) voice-agent tunnel self-test',
        accept: 'application/json',
      },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new PeerError(
      'tunnel',
      'tunnel_unreachable',
      `the tunnel ${url} does not reach this server: ${(error as Error).message}`,
      error,
    );
  }
  const body = await res.text();
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('text/html') || res.status === 401 || res.status === 511) {
    throw new PeerError(
      'tunnel',
      'tunnel_interstitial',
      `the tunnel ${url} answers with an interstitial page (HTTP ${res.status}) instead of this server; Twilio's requests may be blocked. Use --public-url with ngrok or your own proxy.`,
    );
  }
  let health: { status?: string } | undefined;
  try {
    health = JSON.parse(body);
  } catch {
    health = undefined;
  }
  if (!res.ok || !health?.status) {
    throw new PeerError(
      'tunnel',
      'tunnel_broken',
      `the tunnel ${url} did not reach this server's /healthz (HTTP ${res.status})`,
    );
  }
}
