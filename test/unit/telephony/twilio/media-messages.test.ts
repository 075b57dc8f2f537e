import { describe, expect, it } from 'vitest';
import {
  clearMessage,
  markMessage,
  mediaMessage,
  parseTwilioMessage,
  TwilioStreamReader,
} from '../../../../src/telephony/twilio/media-messages.js';

const start = (mediaFormat: unknown = { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }) =>
  JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    start: {
      accountSid: 'AC1',
      streamSid: 'MZ1',
      callSid: 'CA1',
      tracks: ['inbound'],
      mediaFormat,
      customParameters: { token: 't' },
    },
    streamSid: 'MZ1',
  });

describe('Twilio Media Streams codec', () => {
  it('parses each message Twilio sends', () => {
    expect(parseTwilioMessage('{"event":"connected","protocol":"Call","version":"1.0.0"}')).toEqual({
      event: 'connected',
    });
    expect(parseTwilioMessage(start())).toEqual({
      event: 'start',
      streamSid: 'MZ1',
      callSid: 'CA1',
      accountSid: 'AC1',
      customParameters: { token: 't' },
    });
    expect(
      parseTwilioMessage(
        '{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"2","timestamp":"40","payload":"/////w=="},"streamSid":"MZ1"}',
      ),
    ).toEqual({ event: 'media', streamSid: 'MZ1', payload: '/////w==', timestampMs: 40 });
    expect(parseTwilioMessage('{"event":"mark","streamSid":"MZ1","mark":{"name":"m1"}}')).toEqual({
      event: 'mark',
      streamSid: 'MZ1',
      name: 'm1',
    });
    expect(
      parseTwilioMessage('{"event":"dtmf","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"#"}}'),
    ).toEqual({ event: 'dtmf', streamSid: 'MZ1', digit: '#' });
    expect(parseTwilioMessage('{"event":"stop","streamSid":"MZ1","stop":{}}')).toEqual({
      event: 'stop',
      streamSid: 'MZ1',
    });
  });

  it.each([
    ['not json', 'frame is not JSON'],
    ['[1,2]', 'message is missing or not an object'],
    ['{"media":{}}', 'event is missing'],
    ['{"event":"media","media":{"payload":"AA==","timestamp":"0"}}', 'streamSid is missing'],
    [
      '{"event":"media","streamSid":"MZ1","media":{"payload":"A\\"A","timestamp":"0"}}',
      'media.payload is not base64',
    ],
    ['{"event":"media","streamSid":"MZ1","media":{"payload":"AA==","timestamp":"soon"}}', 'media.timestamp'],
    ['{"event":"mark","streamSid":"MZ1","mark":{}}', 'mark.name'],
    ['{"event":"dtmf","streamSid":"MZ1","dtmf":{"digit":"11"}}', 'not a keypad digit'],
    ['{"event":"media","streamSid":"M\\"Z","media":{"payload":"AA==","timestamp":"0"}}', 'not a valid SID'],
  ])('rejects %s', (frame, reason) => {
    expect(() => parseTwilioMessage(frame)).toThrow(reason);
  });

  describe("a stream's reader", () => {
    const sid = `MZ${'a'.repeat(32)}`;
    const payload = Buffer.alloc(160, 0x7f).toString('base64');
    const asSent = `{"event":"media","sequenceNumber":"12","media":{"track":"inbound","chunk":"11","timestamp":"220","payload":"${payload}"},"streamSid":"${sid}"}`;
    const markAsSent = `{"event":"mark","sequenceNumber":"13","streamSid":"${sid}","mark":{"name":"m1f"}}`;
    const reader = new TwilioStreamReader(sid);
    /** What the reader returns is always what the full parser returns (or both throw alike). */
    const same = (text: string) => {
      let expected: unknown;
      try {
        expected = parseTwilioMessage(text);
      } catch (error) {
        expect(() => reader.read(text)).toThrow((error as Error).message);
        return undefined;
      }
      expect(reader.read(text)).toEqual(expected);
      return expected;
    };

    it('reads media and mark echoes as Twilio sends them, and any other form alike', () => {
      expect(same(asSent)).toEqual({ event: 'media', streamSid: sid, payload, timestampMs: 220 });
      expect(same(markAsSent)).toEqual({ event: 'mark', streamSid: sid, name: 'm1f' });
      same(JSON.stringify({ streamSid: sid, event: 'media', media: { payload, timestamp: '220' } }));
      same(JSON.stringify(JSON.parse(asSent), null, 1));
      same(JSON.stringify(JSON.parse(markAsSent), null, 1));
      same('{"event":"stop","sequenceNumber":"14","stop":{},"streamSid":"' + sid + '"}');
    });

    it('leaves everything it does not take to the full parser, which refuses it as before', () => {
      for (const bad of [
        asSent.replace(payload, 'not base64!'),
        asSent.replace(payload, `${payload.slice(0, 10)}\\u0041`),
        asSent.replace(payload, `${payload.slice(0, 10)}"`),
        asSent.replace('"220"', '"-1"'),
        asSent.replace(payload, 'A'.repeat(16_388)),
        asSent.replace('MZaaaa', 'MZ"aaa'),
        asSent.replace('"inbound"', '"outbound"'),
        `${asSent} `,
        markAsSent.replace('"m1f"', '"m 1"'),
        markAsSent.replace('"m1f"', '""'),
        markAsSent.replace('}}', '}'),
      ])
        same(bad);
      expect(() => reader.read(asSent.replace(payload, 'not base64!'))).toThrow('not base64');
      expect(() => reader.read(asSent.replace(payload, 'A'.repeat(16_388)))).toThrow('too large');
    });

    it('reads a frame of another stream as that stream (for the caller to refuse)', () => {
      const other = asSent.replace(sid, `MZ${'b'.repeat(32)}`);
      expect(reader.read(other)).toMatchObject({ event: 'media', streamSid: `MZ${'b'.repeat(32)}` });
      expect(reader.read(markAsSent.replace(sid, 'MZ2'))).toMatchObject({ event: 'mark', streamSid: 'MZ2' });
    });
  });

  it('passes an event Twilio may add later as unknown instead of failing the call', () => {
    expect(parseTwilioMessage('{"event":"wave","streamSid":"MZ1"}')).toEqual({
      event: 'unknown',
      name: 'wave',
    });
  });

  it('rejects a start with a media format other than μ-law 8 kHz mono', () => {
    expect(() =>
      parseTwilioMessage(start({ encoding: 'audio/l16', sampleRate: 16000, channels: 1 })),
    ).toThrow('unsupported media format');
  });

  it('builds outbound frames Twilio accepts', () => {
    expect(JSON.parse(mediaMessage('MZ1', 'AAA='))).toEqual({
      event: 'media',
      streamSid: 'MZ1',
      media: { payload: 'AAA=' },
    });
    expect(JSON.parse(markMessage('MZ1', 'm7'))).toEqual({
      event: 'mark',
      streamSid: 'MZ1',
      mark: { name: 'm7' },
    });
    expect(JSON.parse(clearMessage('MZ1'))).toEqual({ event: 'clear', streamSid: 'MZ1' });
  });
});
