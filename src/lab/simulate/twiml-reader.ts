/**
 * Reads the TwiML a voice-agent server answers, the way Twilio executes it: the first verb decides.
 * A deliberately small parser for well-formed TwiML (elements, attributes, text).
 */

export interface TwimlElement {
  name: string;
  attributes: Record<string, string>;
  children: TwimlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decode = (s: string) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#')
      return String.fromCodePoint(e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ENTITIES[e] ?? m;
  });

export function parseTwiml(xml: string): TwimlElement {
  const root: TwimlElement = { name: '#root', attributes: {}, children: [], text: '' };
  const stack = [root];
  const token =
    /<\?[^>]*\?>|<!--[\s\S]*?-->|<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/g;
  for (const m of xml.matchAll(token)) {
    const [, closing, name, attrs, selfClosing, text] = m;
    const top = stack[stack.length - 1]!;
    if (text !== undefined) {
      top.text += decode(text);
      continue;
    }
    if (!name) continue;
    if (closing) {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const a of (attrs ?? '').matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      attributes[a[1]!] = decode(a[2] ?? a[3] ?? '');
    }
    const element: TwimlElement = { name, attributes, children: [], text: '' };
    top.children.push(element);
    if (!selfClosing) stack.push(element);
  }
  const response = root.children.find((c) => c.name === 'Response');
  if (!response) throw new Error('not TwiML: no <Response> element');
  return response;
}

/** What Twilio would do with a TwiML document that ends a stream. */
export type NextStep =
  | { kind: 'hangup' }
  | { kind: 'say'; text: string }
  | {
      kind: 'dial';
      number: string;
      action: string | undefined;
      /** Rings at most this long (s), when the TwiML says. */
      timeoutS?: number;
      /** What the person who answers hears first (`<Number url>`), when set. */
      whisperUrl?: string;
    }
  | {
      kind: 'connect-stream';
      streamUrl: string;
      actionUrl: string | undefined;
      parameters: Record<string, string>;
    }
  | { kind: 'other'; verb: string }
  /** The action URL could not be reached or did not answer TwiML. */
  | { kind: 'error'; message: string };

export function nextStep(xml: string): NextStep {
  const response = parseTwiml(xml);
  const verb = response.children[0];
  if (!verb) return { kind: 'hangup' }; // an empty response ends the call
  switch (verb.name) {
    case 'Hangup':
      return { kind: 'hangup' };
    case 'Say':
      return { kind: 'say', text: verb.text.trim() };
    case 'Dial': {
      const numberVerb = verb.children.find((c) => c.name === 'Number');
      const number = (numberVerb?.text ?? verb.text).trim();
      const timeout = verb.attributes.timeout;
      const whisperUrl = numberVerb?.attributes.url;
      return {
        kind: 'dial',
        number,
        action: verb.attributes.action,
        ...(timeout ? { timeoutS: Number(timeout) } : {}),
        ...(whisperUrl ? { whisperUrl } : {}),
      };
    }
    case 'Connect': {
      const stream = verb.children.find((c) => c.name === 'Stream');
      if (!stream) return { kind: 'other', verb: 'Connect' };
      const parameters: Record<string, string> = {};
      for (const p of stream.children)
        if (p.name === 'Parameter') parameters[p.attributes.name ?? ''] = p.attributes.value ?? '';
      return {
        kind: 'connect-stream',
        streamUrl: stream.attributes.url ?? '',
        actionUrl: verb.attributes.action,
        parameters,
      };
    }
    default:
      return { kind: 'other', verb: verb.name };
  }
}
