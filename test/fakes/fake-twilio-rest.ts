import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

/**
 * A loopback fake of the Twilio REST API (2010-04-01), driven through the real `twilio` package via
 * TWILIO_API_BASE_URL. It checks Basic auth like Twilio (401 with code 20003), filters numbers by
 * partial match like Twilio (callers must filter exactly), and rejects updates Twilio rejects.
 */

export interface FakeNumber {
  sid: string;
  phone_number: string;
  friendly_name: string;
  voice_url: string | null;
  voice_method: string;
  status_callback: string | null;
  status_callback_method: string;
  voice_application_sid: string | null;
  trunk_sid: string | null;
}

export interface FakeCallUpdate {
  callSid: string;
  twiml?: string;
  url?: string;
  status?: string;
}

/** A call placed through `POST /Calls.json`, as the request gave it. */
export interface FakePlacedCall {
  sid: string;
  to: string;
  from: string;
  url: string;
  method: string;
  statusCallback?: string;
  machineDetection?: string;
  asyncAmd?: string;
  asyncAmdStatusCallback?: string;
}

export interface FakeTwilioRest {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  numbers: FakeNumber[];
  /** Live calls the fake knows (updates to others answer 404). */
  /** Calls in progress by CallSid; a REST redirect with TwiML reaches the simulated call. */
  liveCalls: Map<string, { redirect(twiml: string): Promise<void> } | undefined>;
  callUpdates: FakeCallUpdate[];
  /** Calls placed (outbound); the test plays the callee (webhook, stream, AMD callback). */
  placedCalls: FakePlacedCall[];
  requests: { method: string; path: string }[];
  addNumber(phone: string, extra?: Partial<FakeNumber>): FakeNumber;
  close(): Promise<void>;
}

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');
const twilioError = (status: number, code: number, message: string) => ({
  code,
  message,
  more_info: `https://www.twilio.com/docs/errors/${code}`,
  status,
});

function numberJson(accountSid: string, n: FakeNumber) {
  return {
    account_sid: accountSid,
    api_version: '2010-04-01',
    ...n,
    uri: `/2010-04-01/Accounts/${accountSid}/IncomingPhoneNumbers/${n.sid}.json`,
  };
}

export async function startFakeTwilioRest(
  options: { accountSid?: string; authToken?: string } = {},
): Promise<FakeTwilioRest> {
  const accountSid = options.accountSid ?? `AC${'1'.repeat(32)}`;
  const authToken = options.authToken ?? 'rest-auth-token';
  const numbers: FakeNumber[] = [];
  const liveCalls: FakeTwilioRest['liveCalls'] = new Map();
  const callUpdates: FakeCallUpdate[] = [];
  const placedCalls: FakePlacedCall[] = [];
  const requests: FakeTwilioRest['requests'] = [];
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use((req, res, next) => {
    requests.push({ method: req.method, path: req.path });
    const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
    if (req.header('authorization') !== expected) {
      res.status(401).json(twilioError(401, 20003, 'Authenticate'));
      return;
    }
    if (!req.path.startsWith(`/2010-04-01/Accounts/${accountSid}/`)) {
      res.status(404).json(twilioError(404, 20404, 'The requested resource was not found'));
      return;
    }
    next();
  });
  const base = `/2010-04-01/Accounts/${accountSid}`;

  app.get(`${base}/IncomingPhoneNumbers.json`, (req, res) => {
    const filter = String(req.query.PhoneNumber ?? '');
    const pageSize = Math.min(Number(req.query.PageSize ?? 50), 1000);
    const digits = filter.replace(/\D/g, '');
    // like Twilio: the filter matches partially
    const matching = numbers.filter((n) => !digits || n.phone_number.replace(/\D/g, '').includes(digits));
    res.json({
      incoming_phone_numbers: matching.slice(0, pageSize).map((n) => numberJson(accountSid, n)),
      page: 0,
      page_size: pageSize,
      start: 0,
      end: Math.min(matching.length, pageSize) - 1,
      first_page_uri: `${base}/IncomingPhoneNumbers.json?PageSize=${pageSize}&Page=0`,
      next_page_uri: null,
      previous_page_uri: null,
      uri: req.originalUrl,
    });
  });

  app.post(`${base}/IncomingPhoneNumbers/:sid.json`, (req, res) => {
    const n = numbers.find((x) => x.sid === req.params.sid);
    if (!n) {
      res.status(404).json(twilioError(404, 20404, 'The requested resource was not found'));
      return;
    }
    const b = req.body as Record<string, string>;
    for (const [field, key] of [
      ['VoiceUrl', 'voice_url'],
      ['StatusCallback', 'status_callback'],
    ] as const) {
      if (b[field] !== undefined && b[field] !== '' && !/^https?:\/\//.test(b[field])) {
        res.status(400).json(twilioError(400, 21502, `Invalid ${field}: ${b[field]}`));
        return;
      }
      if (b[field] !== undefined) n[key] = b[field] || null;
    }
    for (const [field, key] of [
      ['VoiceMethod', 'voice_method'],
      ['StatusCallbackMethod', 'status_callback_method'],
    ] as const) {
      if (b[field] !== undefined) {
        if (!['GET', 'POST'].includes(b[field])) {
          res.status(400).json(twilioError(400, 21501, `Invalid ${field}`));
          return;
        }
        n[key] = b[field];
      }
    }
    if (b.VoiceApplicationSid !== undefined) n.voice_application_sid = b.VoiceApplicationSid || null;
    if (b.TrunkSid !== undefined) n.trunk_sid = b.TrunkSid || null;
    res.json(numberJson(accountSid, n));
  });

  // error codes as Twilio documents them; the wording of 21205 for a missing Url and of the AMD
  // refusals is unverified
  app.post(`${base}/Calls.json`, (req, res) => {
    const b = req.body as Record<string, string>;
    const refuse = (code: number, message: string) => res.status(400).json(twilioError(400, code, message));
    const isUrl = (u: string | undefined) => u !== undefined && /^https?:\/\/\S+$/.test(u);
    if (!b.To) return refuse(21201, "No 'To' number is specified");
    if (!b.From) return refuse(21603, "A 'From' phone number is required.");
    if (!/^\+[1-9]\d{6,14}$/.test(b.To)) return refuse(21211, `Invalid 'To' Phone Number: ${b.To}`);
    if (!numbers.some((n) => n.phone_number === b.From))
      return refuse(
        21210,
        `The source phone number provided, ${b.From}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio.`,
      );
    if (!b.Url && !b.Twiml && !b.ApplicationSid)
      return refuse(21205, "A 'Url', 'Twiml' or 'ApplicationSid' is required.");
    if (b.Url && !isUrl(b.Url)) return refuse(21205, `Url is not a valid URL: ${b.Url}`);
    if (b.StatusCallback && !isUrl(b.StatusCallback)) return refuse(21609, 'Invalid StatusCallback');
    if (b.MachineDetection && !['Enable', 'DetectMessageEnd'].includes(b.MachineDetection))
      return refuse(21626, `Invalid MachineDetection: ${b.MachineDetection}`);
    if (b.AsyncAmd && !['true', 'false'].includes(b.AsyncAmd)) return refuse(21626, 'Invalid AsyncAmd');
    if (b.AsyncAmdStatusCallback && !isUrl(b.AsyncAmdStatusCallback))
      return refuse(21626, 'Invalid AsyncAmdStatusCallback');
    const call: FakePlacedCall = {
      sid: sid('CA'),
      to: b.To,
      from: b.From,
      url: b.Url ?? '',
      method: b.Method ?? 'POST',
      ...(b.StatusCallback ? { statusCallback: b.StatusCallback } : {}),
      ...(b.MachineDetection ? { machineDetection: b.MachineDetection } : {}),
      ...(b.AsyncAmd ? { asyncAmd: b.AsyncAmd } : {}),
      ...(b.AsyncAmdStatusCallback ? { asyncAmdStatusCallback: b.AsyncAmdStatusCallback } : {}),
    };
    placedCalls.push(call);
    res.status(201).json({
      sid: call.sid,
      account_sid: accountSid,
      to: call.to,
      from: call.from,
      status: 'queued',
      direction: 'outbound-api',
      api_version: '2010-04-01',
      uri: `${base}/Calls/${call.sid}.json`,
    });
  });

  app.post(`${base}/Calls/:sid.json`, (req, res) => {
    const callSid = req.params.sid;
    if (!liveCalls.has(callSid)) {
      res.status(404).json(twilioError(404, 20404, `The requested resource ${req.path} was not found`));
      return;
    }
    const b = req.body as Record<string, string>;
    // 21220 and 12100 are plausible Twilio codes for these two refusals, but unverified
    if (b.Twiml && b.Url) {
      res.status(400).json(twilioError(400, 21220, 'Url and Twiml are mutually exclusive'));
      return;
    }
    if (b.Twiml && !b.Twiml.trim().startsWith('<')) {
      res.status(400).json(twilioError(400, 12100, 'Document parse failure'));
      return;
    }
    callUpdates.push({
      callSid,
      ...(b.Twiml ? { twiml: b.Twiml } : {}),
      ...(b.Url ? { url: b.Url } : {}),
      ...(b.Status ? { status: b.Status } : {}),
    });
    res.json({ sid: callSid, account_sid: accountSid, status: b.Status ?? 'in-progress' });
    // Twilio redirects at once: the stream stops and the new TwiML runs (no <Connect action>)
    const call = liveCalls.get(callSid);
    if (b.Twiml && call) setImmediate(() => void call.redirect(b.Twiml!));
  });

  app.use((_req, res) => {
    res.status(404).json(twilioError(404, 20404, 'The requested resource was not found'));
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    accountSid,
    authToken,
    numbers,
    liveCalls,
    callUpdates,
    placedCalls,
    requests,
    addNumber(phone, extra = {}) {
      const n: FakeNumber = {
        sid: sid('PN'),
        phone_number: phone,
        friendly_name: phone,
        voice_url: 'https://demo.twilio.com/welcome/voice/',
        voice_method: 'POST',
        status_callback: null,
        status_callback_method: 'POST',
        voice_application_sid: null,
        trunk_sid: null,
        ...extra,
      };
      numbers.push(n);
      return n;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
