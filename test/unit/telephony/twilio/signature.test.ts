import { describe, expect, it } from 'vitest';
import {
  isValidUpgradeSignature,
  isValidWebhookSignature,
  signTwilioRequest,
} from '../../../../src/telephony/twilio/signature.js';

describe('Twilio signatures', () => {
  const token = 'abc123';

  it('validates a webhook against the exact public URL and params', () => {
    const url = 'https://voice.example.com/voice/incoming';
    const params = { CallSid: 'CA1', From: '+15551230000' };
    const sig = signTwilioRequest(token, url, params);
    expect(isValidWebhookSignature(token, sig, url, params)).toBe(true);
    expect(isValidWebhookSignature(token, sig, 'http://voice.example.com/voice/incoming', params)).toBe(
      false,
    );
    expect(isValidWebhookSignature(token, sig, url, { ...params, From: '+1999' })).toBe(false);
    expect(isValidWebhookSignature(token, undefined, url, params)).toBe(false);
  });

  it('validates an upgrade over the wss:// URL, with or without a trailing slash', () => {
    const wss = 'wss://voice.example.com/voice/media';
    expect(isValidUpgradeSignature(token, signTwilioRequest(token, wss), wss)).toBe(true);
    expect(isValidUpgradeSignature(token, signTwilioRequest(token, `${wss}/`), wss)).toBe(true);
    expect(
      isValidUpgradeSignature(token, signTwilioRequest(token, 'https://voice.example.com/voice/media'), wss),
    ).toBe(false);
  });
});
