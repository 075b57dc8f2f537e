import { PeerError, UsageError } from '../../errors.js';
import { describeTwilioError, type TwilioClient } from './rest.js';

/** What of an incoming number's voice routing we read, change and put back. */
export interface VoiceSettings {
  voice_url: string | null;
  voice_method: string | null;
  status_callback: string | null;
  status_callback_method: string | null;
  voice_application_sid: string | null;
  trunk_sid: string | null;
}

export interface IncomingNumber {
  sid: string;
  phone_number: string;
  settings: VoiceSettings;
}

export const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * Finds a number in the account by exact E.164. Twilio's PhoneNumber filter matches partially
 * (+1555123 also finds +15551234567), so the result is filtered exactly here.
 */
export async function findNumber(client: TwilioClient, e164: string): Promise<IncomingNumber> {
  if (!E164.test(e164)) throw new UsageError(`"${e164}" is not an E.164 number (expected e.g. +15551234567)`);
  let list: Awaited<ReturnType<TwilioClient['incomingPhoneNumbers']['list']>>;
  try {
    list = await client.incomingPhoneNumbers.list({ phoneNumber: e164, limit: 50 });
  } catch (error) {
    throw describeTwilioError(error);
  }
  const exact = list.find((n) => n.phoneNumber === e164);
  if (!exact) {
    const near = list.map((n) => n.phoneNumber);
    throw new PeerError(
      'twilio',
      'twilio_number_not_found',
      `${e164} is not a number of this Twilio account${near.length ? ` (similar numbers: ${near.join(', ')})` : ''}. Check the number and TWILIO_ACCOUNT_SID.`,
    );
  }
  return {
    sid: exact.sid,
    phone_number: exact.phoneNumber,
    settings: {
      voice_url: exact.voiceUrl || null,
      voice_method: exact.voiceMethod || null,
      status_callback: exact.statusCallback || null,
      status_callback_method: exact.statusCallbackMethod || null,
      voice_application_sid: exact.voiceApplicationSid || null,
      trunk_sid: exact.trunkSid || null,
    },
  };
}

/** The settings that point a number at a voice-agent server at `baseUrl`. */
export function agentSettings(baseUrl: string, force: boolean, current: VoiceSettings): VoiceSettings {
  return {
    voice_url: `${baseUrl}/voice/incoming`,
    voice_method: 'POST',
    status_callback: `${baseUrl}/voice/status`,
    status_callback_method: 'POST',
    voice_application_sid: force ? null : current.voice_application_sid,
    trunk_sid: force ? null : current.trunk_sid,
  };
}

/** Why the voice URL would be ignored, if it would. */
export function routingOverride(settings: VoiceSettings): string | undefined {
  if (settings.voice_application_sid) {
    return `it routes calls through the TwiML App ${settings.voice_application_sid}, so a voice URL would be ignored`;
  }
  if (settings.trunk_sid)
    return `it routes calls through the SIP trunk ${settings.trunk_sid}, so a voice URL would be ignored`;
  return undefined;
}

export async function applySettings(
  client: TwilioClient,
  number: IncomingNumber,
  settings: VoiceSettings,
): Promise<void> {
  try {
    await client.incomingPhoneNumbers(number.sid).update({
      voiceUrl: settings.voice_url ?? '',
      voiceMethod: settings.voice_method ?? 'POST',
      statusCallback: settings.status_callback ?? '',
      statusCallbackMethod: settings.status_callback_method ?? 'POST',
      // empty clears; only sent when it changes, so an unrelated App/trunk is never touched
      ...(settings.voice_application_sid !== number.settings.voice_application_sid
        ? { voiceApplicationSid: settings.voice_application_sid ?? '' }
        : {}),
      ...(settings.trunk_sid !== number.settings.trunk_sid ? { trunkSid: settings.trunk_sid ?? '' } : {}),
    });
  } catch (error) {
    throw describeTwilioError(error);
  }
}
