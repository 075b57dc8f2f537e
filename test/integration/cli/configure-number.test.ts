import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeTwilioRest, startFakeTwilioRest } from '../../fakes/fake-twilio-rest.js';
import { runCli } from '../../helpers/cli.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

const tmp = useTmpDir();
let rest: FakeTwilioRest | undefined;
afterEach(async () => {
  await rest?.close();
  rest = undefined;
});

async function setup() {
  rest = await startFakeTwilioRest();
  const number = rest.addNumber('+15551234567', {
    voice_url: 'https://old.example.com/voice',
    voice_method: 'GET',
  });
  rest.addNumber('+155512345678'); // contains the digits above: Twilio's filter would match it too
  const dir = tmp();
  const env = {
    TWILIO_ACCOUNT_SID: rest.accountSid,
    TWILIO_AUTH_TOKEN: rest.authToken,
    TWILIO_API_BASE_URL: rest.baseUrl,
    VOICE_AGENT_STATE_DIR: join(dir, 'state'),
  };
  const cli = (args: string[], extra: Record<string, string> = {}) =>
    runCli(['configure-number', ...args], { cwd: dir, env: { ...env, ...extra } });
  return { number, dir, env, cli, fake: rest };
}

describe('voice-agent configure-number', () => {
  it('points the exact number at the server, saves the old settings, and restores them', async () => {
    const { number, dir, cli, fake } = await setup();
    const set = await cli(['+15551234567', '--url', 'https://voice.example.com/']);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain(
      'voice URL       https://old.example.com/voice → https://voice.example.com/voice/incoming',
    );
    expect(set.stdout).toContain('voice method    GET → POST');
    expect(number).toMatchObject({
      voice_url: 'https://voice.example.com/voice/incoming',
      voice_method: 'POST',
      status_callback: 'https://voice.example.com/voice/status',
    });
    expect(fake.numbers[1]!.voice_url).toBe('https://demo.twilio.com/welcome/voice/'); // the look-alike is untouched
    const saved = JSON.parse(readFileSync(join(dir, 'state', '15551234567.json'), 'utf8'));
    expect(saved.previous).toMatchObject({ voice_url: 'https://old.example.com/voice', voice_method: 'GET' });
    expect(JSON.stringify(saved)).not.toContain(fake.authToken);

    // configuring again keeps the original settings for restore
    expect((await cli(['+15551234567', '--url', 'https://other.example.com'])).code).toBe(0);
    const restored = await cli(['+15551234567', '--restore', '--json']);
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({
      changed: true,
      after: { voice_url: 'https://old.example.com/voice' },
    });
    expect(number).toMatchObject({
      voice_url: 'https://old.example.com/voice',
      voice_method: 'GET',
      status_callback: null,
    });
    expect(existsSync(join(dir, 'state', '15551234567.json'))).toBe(false);

    const again = await cli(['+15551234567', '--restore']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('nothing saved for +15551234567');
  });

  it('--dry-run prints what would change and changes nothing', async () => {
    const { number, dir, cli, fake } = await setup();
    const result = await cli(['+15551234567', '--url', 'https://voice.example.com', '--dry-run', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      number: '+15551234567',
      sid: number.sid,
      before: {
        voice_url: 'https://old.example.com/voice',
        voice_method: 'GET',
        status_callback: null,
        status_callback_method: 'POST',
        voice_application_sid: null,
        trunk_sid: null,
      },
      after: {
        voice_url: 'https://voice.example.com/voice/incoming',
        voice_method: 'POST',
        status_callback: 'https://voice.example.com/voice/status',
        status_callback_method: 'POST',
        voice_application_sid: null,
        trunk_sid: null,
      },
      changed: true,
      dry_run: true,
      saved_file: null,
    });
    expect(number.voice_url).toBe('https://old.example.com/voice');
    expect(fake.requests.filter((r) => r.method === 'POST')).toEqual([]);
    expect(existsSync(join(dir, 'state'))).toBe(false);
  });

  it('takes the number from the agent file with --agent', async () => {
    const { number, dir, cli } = await setup();
    writeFiles(dir, { 'agent.yaml': 'name: a\ninstructions: x\ntwilio:\n  phone_number: "+15551234567"\n' });
    expect((await cli(['--agent', 'agent.yaml', '--url', 'https://v.example.com'])).code).toBe(0);
    expect(number.voice_url).toBe('https://v.example.com/voice/incoming');
  });

  it('refuses a number routed through a TwiML App unless --force clears it', async () => {
    const { number, cli } = await setup();
    number.voice_application_sid = `AP${'2'.repeat(32)}`;
    const refused = await cli(['+15551234567', '--url', 'https://v.example.com']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `routes calls through the TwiML App AP${'2'.repeat(32)}, so a voice URL would be ignored`,
    );
    expect(refused.stderr).toContain('--force');
    expect(number.voice_url).toBe('https://old.example.com/voice');
    const forced = await cli(['+15551234567', '--url', 'https://v.example.com', '--force']);
    expect(forced.code).toBe(0);
    expect(number).toMatchObject({
      voice_application_sid: null,
      voice_url: 'https://v.example.com/voice/incoming',
    });
    // restore brings the App back too
    expect((await cli(['+15551234567', '--restore'])).code).toBe(0);
    expect(number.voice_application_sid).toBe(`AP${'2'.repeat(32)}`);
  });

  it('says clearly what is wrong: missing credentials, bad credentials, unknown number, network', async () => {
    const { cli, fake } = await setup();
    const missing = await runCli(['configure-number', '+15551234567', '--url', 'https://v.example.com'], {
      env: {},
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set');

    const bad = await cli(['+15551234567', '--url', 'https://v.example.com'], {
      TWILIO_AUTH_TOKEN: 'wrong-token',
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'Twilio rejected the credentials (HTTP 401): check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN',
    );
    expect(bad.stderr).not.toContain('wrong-token');

    const unknown = await cli(['+15559990000', '--url', 'https://v.example.com']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('+15559990000 is not a number of this Twilio account');

    const near = await cli(['+1555123456', '--url', 'https://v.example.com']);
    expect(near.stderr).toContain('similar numbers: +15551234567, +155512345678');

    const offline = await cli(['+15551234567', '--url', 'https://v.example.com'], {
      TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
    });
    expect(offline.code).toBe(1);
    expect(offline.stderr).toMatch(/cannot reach the Twilio API/);

    const usage = await cli(['555-1234', '--url', 'https://v.example.com']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('is not an E.164 number');
    expect((await cli(['+15551234567'])).stderr).toContain('--url is required');
    expect(fake.numbers[0]!.voice_url).toBe('https://old.example.com/voice');
  });
});
