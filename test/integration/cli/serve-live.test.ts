import { afterEach, describe, expect, it } from 'vitest';
import { mulawTone } from '../../../src/audio/mulaw.js';
import { TwilioCaller } from '../../../src/lab/simulate/twilio-caller.js';
import { signTwilioRequest } from '../../../src/telephony/twilio/signature.js';
import { type FakeLocaltunnel, startFakeLocaltunnel } from '../../fakes/fake-localtunnel.js';
import { type FakeRealtimeServer, startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import { type FakeTwilioRest, startFakeTwilioRest } from '../../fakes/fake-twilio-rest.js';
import { eventually } from '../../helpers/call-harness.js';
import { runCli } from '../../helpers/cli.js';
import { type ServeProcess, startServe } from '../../helpers/serve-process.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const AGENT =
  'name: live\ninstructions: Be brief.\ngreeting: Hello from the live agent.\ncall:\n  fallback:\n    say: We are closing, call back later.\n';
let fake: FakeRealtimeServer | undefined;
let lt: FakeLocaltunnel | undefined;
let rest: FakeTwilioRest | undefined;
let serve: ServeProcess | undefined;
afterEach(async () => {
  serve?.child.kill('SIGKILL');
  await Promise.all([fake?.close(), lt?.close(), rest?.close()]);
  fake = lt = rest = serve = undefined;
});

/** Everything serve needs to go live against the fakes: Realtime, Twilio REST, localtunnel. */
function liveEnv(dir: string): Record<string, string> {
  return {
    OPENAI_API_KEY: 'sk-live',
    OPENAI_REALTIME_URL: fake!.url,
    TWILIO_AUTH_TOKEN: rest!.authToken,
    TWILIO_ACCOUNT_SID: rest!.accountSid,
    TWILIO_API_BASE_URL: rest!.baseUrl,
    LOCALTUNNEL_HOST: lt!.host,
    VOICE_AGENT_STATE_DIR: `${dir}/state`,
  };
}

function agentDir(): string {
  const dir = tmp();
  writeFiles(dir, { 'agent.yaml': AGENT });
  return dir;
}

describe('serve --tunnel', () => {
  it('opens a tunnel, self-tests it, and a signed call travels through it', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-live' });
    lt = await startFakeLocaltunnel();
    serve = await startServe(
      ['agent.yaml', '--port', '0', '--tunnel'],
      {
        OPENAI_API_KEY: 'sk-live',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: 'live-token',
        LOCALTUNNEL_HOST: lt.host,
      },
      agentDir(),
    );
    expect(serve.webhookUrl).toBe(`${lt.publicUrl}/voice/incoming`);
    expect(serve.stdout()).toMatch(/listening on 127\.0\.0\.1:\d+/); // local side on loopback only
    expect(serve.stderr()).toContain(`opening a localtunnel tunnel: ${lt.publicUrl} (self-test passed)`);

    const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: 'live-token' });
    await caller.dial();
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await caller.speak(mulawTone(400));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await caller.hangUp();
    expect(lt.forwarded).toBeGreaterThanOrEqual(3); // self-test, webhook, media stream

    // signatures are checked against the tunnel URL, not the local address
    const local = `http://${serve.stdout().match(/listening on (\S+)/)![1]!}`;
    const params = { CallSid: `CA${'3'.repeat(32)}` };
    const signedForLocal = await fetch(`${local}/voice/incoming`, {
      method: 'POST',
      body: new URLSearchParams(params),
      headers: { 'x-twilio-signature': signTwilioRequest('live-token', `${local}/voice/incoming`, params) },
    });
    expect(signedForLocal.status).toBe(403);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('refuses a tunnel that answers with an interstitial page', async () => {
    fake = await startFakeRealtime();
    lt = await startFakeLocaltunnel({ interstitial: true });
    const result = await runCli(['serve', 'agent.yaml', '--port', '0', '--tunnel'], {
      cwd: agentDir(),
      env: {
        OPENAI_API_KEY: 'sk-test-key',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: 't',
        LOCALTUNNEL_HOST: lt.host,
      },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('answers with an interstitial page (HTTP 511)');
  });
});

describe('serve --configure-number', () => {
  it('points the number at the server while it runs, lets a live call finish on SIGTERM, then restores it', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-live' });
    lt = await startFakeLocaltunnel();
    rest = await startFakeTwilioRest();
    const number = rest.addNumber('+15557654321', { voice_url: 'https://previous.example.com/twiml' });
    const dir = agentDir();
    serve = await startServe(
      [
        'agent.yaml',
        '--port',
        '0',
        '--tunnel',
        '--configure-number',
        '+15557654321',
        '--drain-timeout',
        '30',
      ],
      liveEnv(dir),
      dir,
    );
    expect(number.voice_url).toBe(`${lt.publicUrl}/voice/incoming`);
    expect(serve.stdout()).toContain('Call +15557654321 to talk to the agent');

    const caller = new TwilioCaller({ webhookUrl: number.voice_url!, authToken: rest.authToken });
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    serve.child.kill('SIGTERM');
    await eventually(() => serve!.stderr().includes('shutting down'));

    // new calls now get the fallback...
    const params = { CallSid: `CA${'4'.repeat(32)}`, From: '+15550000000' };
    const late = await fetch(number.voice_url!, {
      method: 'POST',
      body: new URLSearchParams(params),
      headers: { 'x-twilio-signature': signTwilioRequest(rest.authToken, number.voice_url!, params) },
    });
    expect(await late.text()).toContain('<Say>We are closing, call back later.</Say>');
    // ...while the live call goes on
    await caller.speak(mulawTone(400));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    expect(number.voice_url).toBe(`${lt.publicUrl}/voice/incoming`);
    await caller.hangUp();

    expect(await serve.exited).toBe(0);
    expect(number.voice_url).toBe('https://previous.example.com/twiml');
    expect(serve.stderr()).toContain('putting +15557654321 back: restored');
  });

  it('a tunnel that dies stops serve (exit 1) and still restores the number', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-live' });
    lt = await startFakeLocaltunnel({ maxConn: 1 });
    rest = await startFakeTwilioRest();
    const number = rest.addNumber('+15557650000', { voice_url: 'https://previous.example.com/twiml' });
    const dir = tmp();
    // --configure-number alone takes the number from twilio.phone_number
    writeFiles(dir, { 'agent.yaml': `${AGENT}twilio:\n  phone_number: "+15557650000"\n` });
    serve = await startServe(
      ['agent.yaml', '--port', '0', '--tunnel', '--configure-number'],
      liveEnv(dir),
      dir,
    );
    expect(number.voice_url).toBe(`${lt.publicUrl}/voice/incoming`);
    lt.breakTunnel();
    expect(await serve.exited).toBe(1);
    expect(serve.stderr()).toContain('stopping (Twilio can no longer reach this server)');
    expect(number.voice_url).toBe('https://previous.example.com/twiml');
  });

  it('a second signal exits at once, without waiting for live calls', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-live' });
    serve = await startServe(
      ['agent.yaml', '--port', '0', '--host', '127.0.0.1', '--drain-timeout', '60'],
      {
        OPENAI_API_KEY: 'sk-live',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: 'live-token',
      },
      agentDir(),
    );
    const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: 'live-token' });
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    serve.child.kill('SIGINT');
    await eventually(() => serve!.stderr().includes('shutting down'));
    serve.child.kill('SIGINT');
    expect(await serve.exited).toBe(130);
  });
});
