import { createHmac, randomBytes } from 'node:crypto';
import { sameSecret } from '../http/admin-token.js';

/**
 * The stream token is self-contained, so whichever process Twilio's stream reaches can check it: an
 * HMAC over the CallSid, the agent, the call's leg (a caller back from an unanswered transfer is the
 * same call's second leg), an expiry and the instance that pre-warmed a model session. It proves
 * that our webhook answered this call; that it is used once is the shared call state's job.
 */

/** How long Twilio has to open the stream after our webhook answered. */
export const STREAM_TOKEN_TTL_MS = 2 * 60_000;

export interface StreamGrant {
  callSid: string;
  agent: string;
  leg: number;
  /** The instance holding a pre-warmed model session for this call. */
  instance: string;
}

/**
 * The HMAC key: from the Twilio auth token every server of a deployment already shares (so no new
 * secret to distribute), else VOICE_AGENT_SECRET, else a random one (one process only).
 */
export function streamTokenKey(env: { twilioAuthToken?: string; secret?: string }): Buffer {
  const base = env.secret || env.twilioAuthToken;
  if (!base) return randomBytes(32);
  return createHmac('sha256', 'voice-agent stream token v1').update(base).digest();
}

export function mintStreamToken(key: Buffer, grant: StreamGrant, now = Date.now()): string {
  const payload = Buffer.from(
    JSON.stringify({ l: grant.leg, e: Math.ceil((now + STREAM_TOKEN_TTL_MS) / 1000), i: grant.instance }),
  ).toString('base64url');
  return `${payload}.${mac(key, grant.callSid, grant.agent, payload)}`;
}

/** The grant a token carries, or why it is refused (said in the log, never to the caller). */
export function verifyStreamToken(
  key: Buffer,
  token: string | undefined,
  call: { callSid: string; agent: string },
  now = Date.now(),
): { ok: true; grant: StreamGrant } | { ok: false; reason: string } {
  if (!token || token.length > 400) return { ok: false, reason: 'no token' };
  const dot = token.indexOf('.');
  const payload = token.slice(0, dot);
  if (dot < 1 || !sameSecret(token.slice(dot + 1), mac(key, call.callSid, call.agent, payload)))
    return { ok: false, reason: 'a token not minted for this call and agent' };
  let fields: { l?: unknown; e?: unknown; i?: unknown };
  try {
    fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'an unreadable token' };
  }
  if (typeof fields.l !== 'number' || typeof fields.e !== 'number' || typeof fields.i !== 'string')
    return { ok: false, reason: 'an unreadable token' };
  if (fields.e * 1000 < now) return { ok: false, reason: 'an expired token' };
  return { ok: true, grant: { callSid: call.callSid, agent: call.agent, leg: fields.l, instance: fields.i } };
}

function mac(key: Buffer, callSid: string, agent: string, payload: string): string {
  return createHmac('sha256', key).update(`${callSid}\n${agent}\n${payload}`).digest('base64url');
}
