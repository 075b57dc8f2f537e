import { describeTwilioError, type TwilioClient } from './rest.js';
import { VOICE_ROUTES as ROUTES } from './routes.js';

export interface TwilioCallRequest {
  to: string;
  from: string;
  /** The public base URL of the server that takes the call (its webhooks and stream). */
  publicUrl: string;
  /** The call's context, encoded for the webhook URL (Twilio signs the URL, so it arrives intact). */
  context: string;
  /** Twilio's asynchronous answering-machine detection. */
  machineDetection: boolean;
}

/**
 * Places a call through the Calls API. When it is answered Twilio requests `/voice/outbound`, which
 * opens the same Media Stream as an incoming call. With machine detection, `AsyncAmd` lets the call
 * connect at once (a person hears the greeting without delay); `DetectMessageEnd` makes Twilio report
 * a machine only once its greeting has ended (the beep), the moment to leave a message.
 */
export async function placeTwilioCall(
  client: TwilioClient,
  call: TwilioCallRequest,
): Promise<{ callSid: string }> {
  const base = call.publicUrl;
  try {
    const created = await client.calls.create({
      to: call.to,
      from: call.from,
      url: `${base}${ROUTES.outbound}?context=${call.context}`,
      method: 'POST',
      statusCallback: base + ROUTES.status,
      statusCallbackMethod: 'POST',
      ...(call.machineDetection
        ? {
            machineDetection: 'DetectMessageEnd',
            asyncAmd: 'true',
            asyncAmdStatusCallback: base + ROUTES.answeredBy,
            asyncAmdStatusCallbackMethod: 'POST',
          }
        : {}),
    });
    return { callSid: created.sid };
  } catch (error) {
    throw describeTwilioError(error);
  }
}

/** Who (or what) answered, from Twilio's `AnsweredBy`. */
export type AnsweredBy = 'human' | 'machine' | 'fax' | 'unknown';

export function answeredByOf(value: unknown): AnsweredBy {
  const text = String(value ?? '');
  if (text === 'human') return 'human';
  if (text.startsWith('machine_')) return 'machine';
  if (text === 'fax') return 'fax';
  return 'unknown';
}
