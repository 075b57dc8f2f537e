import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mulawTone } from '../../../src/audio/mulaw.js';
import { loadAgent } from '../../../src/config/load.js';
import { type AgentRuntime, startAgentRuntime } from '../../../src/host/agent-runtime.js';
import { TwilioCaller } from '../../../src/lab/simulate/twilio-caller.js';
import { createLogger } from '../../../src/observability/logger.js';
import { openCallRecords } from '../../../src/records/open.js';
import { signTwilioRequest } from '../../../src/telephony/twilio/signature.js';
import { type FakeRealtimeServer, startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import {
  type FakePlacedCall,
  type FakeTwilioRest,
  startFakeTwilioRest,
} from '../../fakes/fake-twilio-rest.js';
import { API_KEY, AUTH_TOKEN, eventually } from '../../helpers/call-harness.js';
import { runCli } from '../../helpers/cli.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const ADMIN = 'admin-token-0123456789abcdef';
const OUR_NUMBER = '+15005550006';
let runtime: AgentRuntime | undefined;
let fake: FakeRealtimeServer | undefined;
let rest: FakeTwilioRest | undefined;
afterEach(async () => {
  await runtime?.close();
  await fake?.close();
  await rest?.close();
  runtime = fake = rest = undefined;
});

const AGENT = `name: reminders
instructions: You are the Swift Movers assistant.
greeting: Thanks for calling Swift Movers.
twilio:
  phone_number: "${OUR_NUMBER}"
outbound:
  greeting: "Hi {{name}}, this is Mia from Swift Movers, calling about your move {{reference}}."
  instructions: Confirm that the move on {{date}} still suits them.
  voicemail: "Hi {{name}}, Swift Movers here about your move {{reference}}. Please call us back."
  caller_ids: ["+15550000001"]
`;

/** serve's runtime for the agent file, with REST credentials pointing at the fake Twilio API. */
async function serveAgent(dir: string, yaml = AGENT) {
  writeFiles(dir, { 'agent.yaml': yaml });
  const { agent } = loadAgent(join(dir, 'agent.yaml'));
  fake = await startFakeRealtime({ apiKey: API_KEY });
  rest = await startFakeTwilioRest({ authToken: AUTH_TOKEN });
  rest.addNumber(OUR_NUMBER);
  const logger = createLogger({ level: 'error', json: true, write: () => {} });
  const records = openCallRecords({ agent, dir: join(dir, 'data'), logger })!;
  runtime = await startAgentRuntime({
    agent,
    logger,
    host: '127.0.0.1',
    port: 0,
    realtimeUrl: fake.url,
    openaiApiKey: API_KEY,
    twilioAuthToken: AUTH_TOKEN,
    twilioRest: { accountSid: rest.accountSid, apiBaseUrl: rest.baseUrl },
    records,
    adminToken: ADMIN,
  });
  /** Once the call is over: its record is final and written. */
  const recorded = async () => {
    await eventually(() => runtime!.server.activeCalls === 0);
    await runtime!.recordsSettled();
    await records.flush();
  };
  return { agent, base: runtime.server.publicUrl, recorded };
}

/** Twilio's side once the callee picks up: the signed webhook, then the stream. */
function answer(call: FakePlacedCall): TwilioCaller {
  return new TwilioCaller({
    webhookUrl: call.url,
    authToken: AUTH_TOKEN,
    from: call.from,
    to: call.to,
    placed: { callSid: call.sid },
  });
}

/** Twilio's asynchronous AMD callback. */
async function reportAnsweredBy(call: FakePlacedCall, answeredBy: string, accountSid: string) {
  const params = {
    CallSid: call.sid,
    AccountSid: accountSid,
    AnsweredBy: answeredBy,
    MachineDetectionDuration: '2400',
  };
  const res = await fetch(call.asyncAmdStatusCallback!, {
    method: 'POST',
    body: new URLSearchParams(params),
    headers: { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, call.asyncAmdStatusCallback!, params) },
  });
  expect(res.status).toBe(204);
}

describe('outbound calls', () => {
  it('voice-agent call places the call through Twilio; when a person answers, the agent opens with the outbound greeting and context', async () => {
    const dir = tmp();
    const { base, recorded } = await serveAgent(dir);
    const env = {
      TWILIO_ACCOUNT_SID: rest!.accountSid,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: rest!.baseUrl,
      VOICE_AGENT_PUBLIC_URL: base,
    };
    const placedCli = await runCli(
      [
        'call',
        '+15551234567',
        '--agent',
        'agent.yaml',
        '--context',
        '{"name":"Jane","reference":"SM-4821","date":"Friday the 4th"}',
        '--json',
      ],
      { cwd: dir, env },
    );
    expect(placedCli.stderr).toBe('');
    expect(placedCli.code).toBe(0);
    const call = rest!.placedCalls[0]!;
    expect(JSON.parse(placedCli.stdout)).toMatchObject({
      call_sid: call.sid,
      to: '+15551234567',
      from: OUR_NUMBER,
    });
    expect(call).toMatchObject({
      to: '+15551234567',
      from: OUR_NUMBER,
      method: 'POST',
      statusCallback: `${base}/voice/status`,
      machineDetection: 'DetectMessageEnd',
      asyncAmd: 'true',
      asyncAmdStatusCallback: `${base}/voice/answered-by`,
    });
    expect(call.url.startsWith(`${base}/voice/outbound?context=`)).toBe(true);

    const callee = answer(call);
    await callee.dial();
    expect(await callee.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    const session = fake!.callSessions()[0]!;
    const instructions = String(
      (session.sent('session.update')[0] as { session: { instructions: string } }).session.instructions,
    );
    expect(instructions).toContain('You are the Swift Movers assistant.');
    expect(instructions).toContain('Confirm that the move on Friday the 4th still suits them.');
    expect(instructions).toContain('- reference: SM-4821');
    expect([...session.responses].map((r) => r.say)).toContain(
      'Hi Jane, this is Mia from Swift Movers, calling about your move SM-4821.',
    );
    // a person: the detection changes nothing, the conversation goes on
    await reportAnsweredBy(call, 'human', callee.accountSid);
    await callee.speak(mulawTone(500));
    await eventually(() => session.responses.length >= 2, 10_000);
    await callee.hangUp();
    await recorded();

    const shown = await runCli(['calls', 'show', call.sid, '--data-dir', join(dir, 'data')], { cwd: dir });
    expect(shown.stdout).toMatch(/from\/to .* \(outbound, answered by a human\)/);
  });

  it('an answering machine: the agent stops, leaves the voicemail after the beep and hangs up (placed with POST /calls/outbound)', async () => {
    const dir = tmp();
    const { base, recorded } = await serveAgent(dir);
    const post = (body: unknown, token = ADMIN) =>
      fetch(`${base}/calls/outbound`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ to: '+15551234567' }, 'wrong-token-000000')).status).toBe(401);
    const badNumber = await post({ to: '555-1234' });
    expect(badNumber.status).toBe(400);
    expect(((await badNumber.json()) as { error: string }).error).toContain('E.164');
    const missing = await post({ to: '+15551234567', context: { name: 'Jane' } });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toContain(
      'outbound.greeting uses {{reference}}',
    );
    const context = { name: 'J', reference: 'R', date: 'D' };
    const foreign = await post({ to: '+15551234567', from: '+15550000000', context });
    expect(foreign.status).toBe(403); // not one of the agent's numbers: refused before Twilio is asked
    expect(((await foreign.json()) as { code: string }).code).toBe('caller_id_not_allowed');
    const unowned = await post({ to: '+15551234567', from: '+15550000001', context });
    expect(unowned.status).toBe(502); // listed, but Twilio refuses a caller ID the account does not own
    expect(((await unowned.json()) as { error: string }).error).toContain('not yet verified');

    const placed = await post({
      to: '+15551234567',
      context: { name: 'Jane', reference: 'SM-4821', date: 'Friday' },
    });
    expect(placed.status).toBe(201);
    const { callSid } = (await placed.json()) as { callSid: string };
    const call = rest!.placedCalls.find((c) => c.sid === callSid)!;
    const callee = answer(call);
    await callee.dial();
    expect(await callee.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    // the machine's greeting ended with a beep
    await reportAnsweredBy(call, 'machine_end_beep', callee.accountSid);
    const session = fake!.callSessions()[0]!;
    await eventually(
      () =>
        [...session.responses].some(
          (r) => r.say === 'Hi Jane, Swift Movers here about your move SM-4821. Please call us back.',
        ),
      10_000,
    );
    // the server ends the call once the message has played: Twilio hangs up
    expect(await callee.outcome()).toEqual({ kind: 'hangup' });
    await recorded();
    const shown = await runCli(['calls', 'show', callSid, '--data-dir', join(dir, 'data')], { cwd: dir });
    expect(shown.stdout).toContain('answered by a machine');
    expect(shown.stdout).toContain('left a voicemail message on an answering machine');
  });

  it('the admin token is not a dialler: premium, satellite and foreign numbers are refused, and calls are rate limited', async () => {
    const dir = tmp();
    const { base } = await serveAgent(dir, `${AGENT}  max_per_minute: 3\n`);
    const post = (to: string) =>
      fetch(`${base}/calls/outbound`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to, context: { name: 'J', reference: 'R', date: 'D' } }),
      });
    const refused: Record<string, [number, string]> = {};
    for (const to of ['+19005551234', '+882123456789', '+881612345678', '+5351234567', '+447700900123']) {
      const res = await post(to);
      refused[to] = [res.status, ((await res.json()) as { code: string }).code];
    }
    expect(refused).toEqual({
      '+19005551234': [403, 'destination_not_allowed'], // US premium rate
      '+882123456789': [403, 'destination_not_allowed'], // international networks
      '+881612345678': [403, 'destination_not_allowed'], // satellite
      '+5351234567': [403, 'destination_not_allowed'], // outside +1, the agent's own country code
      '+447700900123': [403, 'destination_not_allowed'],
    });
    expect(rest!.placedCalls).toEqual([]);
    const burst = [];
    for (let i = 0; i < 5; i++) burst.push((await post(`+1555123456${i}`)).status);
    expect(burst).toEqual([201, 201, 201, 429, 429]);
    expect(rest!.placedCalls).toHaveLength(3);
  });

  it('voice-agent call says what to fix: no URL, a bad context, no credentials', async () => {
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    const noUrl = await runCli(['call', '+15551234567', '--agent', 'agent.yaml'], { cwd: dir });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('--url is required (or VOICE_AGENT_PUBLIC_URL)');
    const badJson = await runCli(
      [
        'call',
        '+15551234567',
        '--agent',
        'agent.yaml',
        '--url',
        'https://voice.example.com',
        '--context',
        '{name',
      ],
      { cwd: dir },
    );
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--context: expected a JSON object');
    const noCreds = await runCli(
      [
        'call',
        '+15551234567',
        '--agent',
        'agent.yaml',
        '--url',
        'https://voice.example.com',
        '--context',
        '{"name":"J","reference":"R","date":"D"}',
      ],
      { cwd: dir, env: { TWILIO_ACCOUNT_SID: '', TWILIO_AUTH_TOKEN: '' } },
    );
    expect(noCreds.code).toBe(2);
    expect(noCreds.stderr).toContain('placing a call needs your Twilio account SID and auth token');
    for (const r of [noUrl, badJson, noCreds]) expect(r.stderr).not.toMatch(/\n\s+at /); // no stack traces
  });
});
