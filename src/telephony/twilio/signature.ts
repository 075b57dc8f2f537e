import twilio from 'twilio';

/**
 * X-Twilio-Signature checks. The URL is always the configured public URL plus the request path —
 * never rebuilt from Host / X-Forwarded-* headers, which proxies and tunnels rewrite.
 */

export function isValidWebhookSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Record<string, string>,
): boolean {
  if (!signature) return false;
  return twilio.validateRequest(authToken, signature, url, params);
}

/**
 * Media Streams upgrades are signed over the `wss://` URL as written in the TwiML, with no params.
 * Twilio's docs suggest also trying the URL with a trailing slash.
 */
export function isValidUpgradeSignature(
  authToken: string,
  signature: string | undefined,
  wssUrl: string,
): boolean {
  if (!signature) return false;
  const variants = wssUrl.endsWith('/') ? [wssUrl, wssUrl.slice(0, -1)] : [wssUrl, `${wssUrl}/`];
  return variants.some((url) => twilio.validateRequest(authToken, signature, url, {}));
}

/** Signs like Twilio does: for the caller simulator and tests. */
export function signTwilioRequest(
  authToken: string,
  url: string,
  params: Record<string, string> = {},
): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}
