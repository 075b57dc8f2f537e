import twilio from 'twilio';
import { PeerError, UsageError } from '../../errors.js';

/**
 * The Twilio REST API through the official `twilio` package. `apiBaseUrl` (env TWILIO_API_BASE_URL)
 * points every request at another host — a loopback fake in tests — while keeping the package's own
 * form encoding and Basic auth, so the fake sees exactly what Twilio would.
 */
export interface TwilioRestOptions {
  accountSid: string;
  authToken: string;
  apiBaseUrl?: string;
}

export type TwilioClient = twilio.Twilio;

export function createTwilioClient(options: TwilioRestOptions): TwilioClient {
  if (!/^AC[0-9a-zA-Z]{32}$/.test(options.accountSid)) {
    throw new UsageError(
      'TWILIO_ACCOUNT_SID must look like AC followed by 32 characters',
      'twilio_bad_account_sid',
    );
  }
  if (!options.apiBaseUrl) return twilio(options.accountSid, options.authToken);
  const base = options.apiBaseUrl.replace(/\/+$/, '');
  const inner = new twilio.RequestClient();
  const httpClient = {
    request: (opts: Parameters<typeof inner.request>[0]) =>
      inner.request({ ...opts, uri: opts.uri.replace(/^https:\/\/[^/]+/, base) }),
  } as unknown as twilio.RequestClient;
  return twilio(options.accountSid, options.authToken, { httpClient });
}

/** A failure of the REST API, phrased for a person (credentials, missing resources, network). */
export function describeTwilioError(error: unknown): PeerError {
  const e = error as { status?: number; code?: number; message?: string; cause?: { code?: string } };
  if (e.status === 401 || e.status === 403) {
    return new PeerError(
      'twilio',
      'twilio_unauthorized',
      `Twilio rejected the credentials (HTTP ${e.status}): check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN`,
      error,
    );
  }
  if (e.status === 404)
    return new PeerError(
      'twilio',
      'twilio_not_found',
      `Twilio: not found (${e.message ?? 'HTTP 404'})`,
      error,
    );
  if (e.status)
    return new PeerError(
      'twilio',
      'twilio_error',
      `Twilio answered HTTP ${e.status}: ${e.message ?? ''} (code ${e.code ?? 'n/a'})`,
      error,
    );
  const net = e.cause?.code ?? (e as { code?: string }).code;
  return new PeerError(
    'twilio',
    'twilio_unreachable',
    `cannot reach the Twilio API${net ? ` (${net})` : ''}: ${e.message ?? String(error)}`,
    error,
  );
}

/** Redirects a live call to `<Dial>` (the REST route of a transfer). */
/** Sends a live call to `<Dial>` (a transfer), with the TwiML the action URL would give. */
export function redirectToDial(client: TwilioClient, callSid: string, dialTwiml: string): Promise<void> {
  return redirectToTwiml(client, callSid, dialTwiml);
}

/** Makes a live call leave its stream and play `twiml` now (Twilio stops the stream itself). */
export async function redirectToTwiml(client: TwilioClient, callSid: string, twiml: string): Promise<void> {
  try {
    await client.calls(callSid).update({ twiml });
  } catch (error) {
    throw describeTwilioError(error);
  }
}
