import { UsageError } from '../errors.js';
import { stateDir } from '../telephony/twilio/number-state.js';
import { createTwilioClient, type TwilioClient } from '../telephony/twilio/rest.js';

/** The REST client from TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN (and TWILIO_API_BASE_URL for tests). */
export function twilioFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  purpose = 'changing a number',
): {
  client: TwilioClient;
  stateDir: string;
} {
  const missing = ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN'].filter((name) => !env[name]);
  if (missing.length) {
    throw new UsageError(
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set: ${purpose} needs your Twilio account SID and auth token (environment or .env)`,
      'missing_env',
    );
  }
  return {
    client: createTwilioClient({
      accountSid: env.TWILIO_ACCOUNT_SID!,
      authToken: env.TWILIO_AUTH_TOKEN!,
      apiBaseUrl: env.TWILIO_API_BASE_URL,
    }),
    stateDir: stateDir(env),
  };
}
