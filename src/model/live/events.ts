/**
 * GPT-Live server events, parsed at the edge (house rule 2): the events the adapter acts on are
 * checked field by field and typed here; any other well-formed event passes as `other` (Live adds
 * events; an unknown one must not end a call); a message that is not JSON, or one of ours with a
 * field of the wrong type, is `undefined` and ignored. Nothing further in reads the wire's JSON.
 */

export type LiveEvent =
  | { type: 'session.started'; expiresAt: number | undefined }
  | { type: 'session.closed'; reason: string }
  | { type: 'session.output_audio.delta'; delta: string }
  | { type: 'session.input_transcript.delta'; delta: string }
  | { type: 'session.output_transcript.delta'; delta: string }
  /** An event of the Responses request Live delegated to (its delegation's id, the event). */
  | { type: 'response.event'; delegationId: string | undefined; event: Record<string, unknown> }
  | { type: 'error'; message: string; code: string; clientEventId: string | undefined }
  | { type: 'other'; name: string };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** One message from GPT-Live, or undefined when it cannot be acted on. */
export function parseLiveEvent(message: string): LiveEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!isObject(raw) || typeof raw.type !== 'string') return undefined;
  const type = raw.type;
  switch (type) {
    case 'session.started': {
      if (!isObject(raw.session)) return undefined;
      const expires = raw.session.expires_at;
      return { type, expiresAt: typeof expires === 'number' ? expires : undefined };
    }
    case 'session.closed':
      return { type, reason: text(raw.reason) ?? 'unknown' };
    case 'session.output_audio.delta':
    case 'session.input_transcript.delta':
    case 'session.output_transcript.delta': {
      const delta = text(raw.delta);
      return delta === undefined ? undefined : { type, delta };
    }
    case 'response.event':
      return isObject(raw.event)
        ? { type, delegationId: text(raw.delegation_id), event: raw.event }
        : undefined;
    case 'error': {
      if (!isObject(raw.error)) return undefined;
      const error = raw.error;
      return {
        type,
        message: text(error.message) ?? 'no message',
        code: text(error.code) ?? text(error.type) ?? 'unknown',
        clientEventId: text(error.client_event_id),
      };
    }
    default:
      return { type: 'other', name: type };
  }
}
