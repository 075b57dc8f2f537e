import twilio from 'twilio';

/** TwiML documents the server answers with. Built with the twilio package (escaping done for us). */

export type Fallback = { say: string } | { dial: string };

export interface ConnectStreamOptions {
  streamUrl: string;
  actionUrl: string;
  parameters: Record<string, string>;
}

export function connectStreamTwiml(options: ConnectStreamOptions): string {
  const response = new twilio.twiml.VoiceResponse();
  const stream = response
    .connect({ action: options.actionUrl, method: 'POST' })
    .stream({ url: options.streamUrl });
  for (const [name, value] of Object.entries(options.parameters)) stream.parameter({ name, value });
  return response.toString();
}

export function fallbackTwiml(fallback: Fallback): string {
  const response = new twilio.twiml.VoiceResponse();
  if ('say' in fallback) {
    response.say(fallback.say);
    response.hangup();
  } else {
    response.dial(fallback.dial);
  }
  return response.toString();
}

/**
 * A transfer: `<Dial>` the number, ringing at most `timeoutS`; with `whisperUrl`, the person who
 * answers first hears what that URL says (`<Number url>`), then the caller is connected.
 */
export function dialTwiml(
  number: string,
  actionUrl?: string,
  options: { whisperUrl?: string; timeoutS?: number } = {},
): string {
  const response = new twilio.twiml.VoiceResponse();
  const dial = response.dial({
    ...(actionUrl ? { action: actionUrl, method: 'POST' as const } : {}),
    ...(options.timeoutS ? { timeout: options.timeoutS } : {}),
  });
  dial.number(options.whisperUrl ? { url: options.whisperUrl, method: 'POST' } : {}, number);
  return response.toString();
}

/** What the colleague hears before a transferred caller is connected. */
export function whisperTwiml(summary: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(`Incoming transfer from the phone assistant. ${summary}`);
  return response.toString();
}

export function hangupTwiml(): string {
  const response = new twilio.twiml.VoiceResponse();
  response.hangup();
  return response.toString();
}

/** A transfer that nobody answered: say so and let the caller leave a message (or hang up). */
export function voicemailTwiml(recordActionUrl: string, transcribeCallbackUrl?: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(
    "I'm sorry, nobody could take your call right now. Please leave a message after the tone, and we will call you back. You can also just hang up.",
  );
  response.record({
    action: recordActionUrl,
    method: 'POST',
    maxLength: 120,
    playBeep: true,
    finishOnKey: '#',
    // Twilio's own transcription (English, messages up to 2 minutes), posted when it is ready
    ...(transcribeCallbackUrl ? { transcribe: true, transcribeCallback: transcribeCallbackUrl } : {}),
  });
  response.say('We did not get a message. Goodbye.');
  response.hangup();
  return response.toString();
}

export function goodbyeTwiml(text: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(text);
  response.hangup();
  return response.toString();
}
