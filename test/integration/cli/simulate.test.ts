import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Brain, type FakeRealtimeServer, startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import { ROOT, runCli } from '../../helpers/cli.js';
import { type ServeProcess, startServe } from '../../helpers/serve-process.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const AUDIO = join(ROOT, 'test/fixtures/audio');
/** One turn, played fast, a short tail: the quickest whole call. */
const QUICK_CALL = ['--audio', join(AUDIO, 'quote-request.ulaw'), '--speed', '4', '--tail', '0.5'];
const AGENT = 'name: sim\ninstructions: Be brief.\ngreeting: Hello, this is the simulator agent.\n';
let fake: FakeRealtimeServer | undefined;
let serve: ServeProcess | undefined;
afterEach(async () => {
  serve?.child.kill('SIGKILL');
  await fake?.close();
  fake = serve = undefined;
});

async function simulate(
  args: string[],
  options: { brain?: Brain; agent?: string; env?: Record<string, string>; transcripts?: string[] } = {},
) {
  fake ??= await startFakeRealtime({
    apiKey: 'sk-sim',
    brain: options.brain,
    callerTranscripts: options.transcripts,
  });
  const dir = tmp();
  writeFiles(dir, { 'agent.yaml': options.agent ?? AGENT });
  const result = await runCli(['simulate', 'agent.yaml', ...args], {
    cwd: dir,
    env: { OPENAI_API_KEY: 'sk-sim', OPENAI_REALTIME_URL: fake.url, ...options.env },
    timeoutMs: 60_000,
  });
  return { ...result, dir };
}

describe('voice-agent simulate', () => {
  it('plays several turns like Twilio and reports transcript, latency and the agent audio as WAV', async () => {
    const { code, stdout, stderr, dir } = await simulate(
      [
        '--audio',
        join(AUDIO, 'quote-request.ulaw'),
        '--audio',
        join(AUDIO, 'booking.wav'),
        '--speed',
        '4',
        '--tail',
        '1',
        '--out',
        'agent.wav',
        '--json',
      ],
      { transcripts: ['I would like a quote', 'Book the morning please'] },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({
      ok: true,
      agent: 'sim',
      target: 'in-process',
      outcome: { ended_by: 'caller', next: { kind: 'hangup' } },
      audio_file: 'agent.wav',
      problems: [],
    });
    expect(report.transcript.map((t: { role: string; text: string }) => `${t.role}: ${t.text}`)).toEqual([
      'agent: Hello, this is the simulator agent.',
      'caller: I would like a quote',
      'agent: Answer number 1.',
      'caller: Book the morning please',
      'agent: Answer number 2.',
    ]);
    const times = report.transcript.map((t: { at_ms: number }) => t.at_ms);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(report.latency.greeting_ms).toBeGreaterThanOrEqual(0);
    expect(report.latency.turns).toHaveLength(2);
    for (const t of report.latency.turns) {
      expect(t.latency_ms).toBeGreaterThan(0);
      expect(t.first_agent_audio_ms).toBeGreaterThan(t.speech_end_ms);
    }
    expect(report.latency.turns[0].file).toContain('quote-request.ulaw');

    // a playable WAV: PCM 16-bit 8 kHz mono, as long as the agent's timeline
    const wav = readFileSync(join(dir, 'agent.wav'));
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.toString('ascii', 8, 12)).toBe('WAVE');
    expect(wav.readUInt16LE(20)).toBe(1);
    expect(wav.readUInt16LE(22)).toBe(1);
    expect(wav.readUInt32LE(24)).toBe(8000);
    expect(wav.readUInt16LE(34)).toBe(16);
    const durationMs = (wav.readUInt32LE(40) / 2 / 8000) * 1000;
    expect(durationMs).toBeGreaterThan(report.agent_audio_ms);
    expect(durationMs).toBeLessThanOrEqual(report.duration_ms + 20);
    // the fake answered with audio (50 ms per character)
    expect(report.agent_audio_ms).toBeGreaterThan(
      ('Hello, this is the simulator agent.'.length + 2 * 'Answer number 1.'.length) * 50 - 100,
    );
  });

  it('prints a readable report by default', async () => {
    const { code, stdout } = await simulate(QUICK_CALL);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Transcript\n/);
    expect(stdout).toMatch(/\d\d:\d\d\.\d {2}agent +Hello, this is the simulator agent\./);
    expect(stdout).toMatch(
      /turn 1 \(.*quote-request\.ulaw\) {2}\d+ ms from end of speech to first agent audio/,
    );
    expect(stdout).toContain('the caller hung up.');
  });

  it('--report-html writes the call page with the recording embedded; the call is in the records', async () => {
    const { code, stdout, dir } = await simulate([...QUICK_CALL, '--report-html', 'call.html']);
    expect(code).toBe(0);
    const html = readFileSync(join(dir, 'call.html'), 'utf8');
    expect(html).toContain('Hello, this is the simulator agent.');
    expect(html).toContain('<svg class="timeline"');
    expect(html).toMatch(/<audio controls preload="metadata" src="data:audio\/wav;base64,UklGR/);
    expect(html).toContain('simulated');
    const callSid = /Record: voice-agent calls show (CA\w+)/.exec(stdout)?.[1];
    expect(callSid).toBeDefined();
    const shown = await runCli(['calls', 'show', callSid!, '--json']);
    const record = JSON.parse(shown.stdout);
    expect(record).toMatchObject({ callSid, simulated: true, outcome: { kind: 'completed' } });
    expect(record.transcript[0]).toMatchObject({
      role: 'agent',
      text: 'Hello, this is the simulator agent.',
    });
    expect(record.latency.turns).toHaveLength(1);
    expect(record.cost.total).toBeGreaterThan(0);
    expect(record.audio.durationMs).toBeGreaterThan(1_000);
  });

  it('checks where results go before dialling', async () => {
    const { code, stderr } = await simulate([
      '--audio',
      join(AUDIO, 'quote-request.ulaw'),
      '--report-html',
      'missing/dir/call.html',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('--report-html');
    expect(stderr).toContain('does not exist');
    expect(fake!.sessions).toHaveLength(0); // nothing was dialled
  });

  it('handles marks and clear like Twilio: a caller who interrupts is reported as a barge-in', async () => {
    const { code, stdout } = await simulate(
      [
        '--audio',
        join(AUDIO, 'silence.wav'),
        '--audio',
        join(AUDIO, 'interrupt-16k.wav'),
        '--turn-gap',
        '2',
        '--tail',
        '0.5',
        '--json',
      ],
      // a long greeting the caller talks over (the first turn is silence, so it keeps playing)
      {
        brain: (ctx) =>
          ctx.trigger === 'create'
            ? { say: 'g'.repeat(200), audioMs: 8000 }
            : { say: 'Of course, go ahead.' },
      },
    );
    const report = JSON.parse(stdout);
    expect(report.barge_ins).toHaveLength(1);
    expect(report.barge_ins[0].agent_heard_ms).toBeGreaterThan(1000);
    const cut = report.transcript.find((t: { interrupted?: boolean }) => t.interrupted);
    expect(cut).toMatchObject({ role: 'agent', heard_ms: expect.any(Number) });
    // the server counts what was heard from the marks Twilio echoes, the caller from its own playback:
    // they agree to a few 20 ms frames (more on a loaded machine: each side reads its clock in its turn)
    expect(Math.abs(cut.heard_ms - report.barge_ins[0].agent_heard_ms)).toBeLessThanOrEqual(100);
    expect(report.problems).toEqual([]);
    expect(code).toBe(0);
  });

  it('reports an agent that ends the call itself', async () => {
    const { code, stdout } = await simulate(
      ['--audio', join(AUDIO, 'quote-request.ulaw'), '--speed', '4', '--json'],
      {
        brain: (ctx) =>
          ctx.callerTurns === 0
            ? { say: 'Hi.' }
            : { say: 'Goodbye!', call: [{ name: 'end_call', arguments: {} }] },
      },
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout).outcome).toMatchObject({
      ended_by: 'agent',
      next: { kind: 'hangup' },
      server: { kind: 'completed' },
    });
  });

  it('--expect-tool and --expect-text pass, and fail with a clear diff (exit 1)', async () => {
    const brain: Brain = (ctx) =>
      ctx.callerTurns === 0
        ? { say: 'Swift Movers.' }
        : ctx.toolOutputs.length === 0
          ? { call: [{ name: 'end_call', arguments: { reason: 'test' } }] }
          : { say: 'Bye.' };
    const pass = await simulate(
      [
        '--audio',
        join(AUDIO, 'quote-request.ulaw'),
        '--speed',
        '4',
        '--expect-tool',
        'end_call',
        '--expect-text',
        '/swift movers/i',
        '--expect-text',
        'bye',
      ],
      { brain },
    );
    expect(pass.stdout).not.toContain('Problems');
    expect(pass.code).toBe(0);
    const fail = await simulate(
      [
        '--audio',
        join(AUDIO, 'quote-request.ulaw'),
        '--speed',
        '4',
        '--expect-tool',
        'book_move',
        '--expect-text',
        'booked for',
      ],
      { brain },
    );
    expect(fail.code).toBe(1);
    expect(fail.stdout).toContain('expected the agent to call "book_move"; it called "end_call"');
    expect(fail.stdout).toContain('expected the agent to say something matching /booked for/i; it said:');
    expect(fail.stdout).toContain('- "Swift Movers."');
    expect(fail.stderr).toContain('simulation failed');
  });

  it('a failed call (OpenAI refuses the key) exits 1 and says why', async () => {
    fake = await startFakeRealtime({ handshakeStatus: 401 });
    const { code, stdout } = await simulate(['--audio', join(AUDIO, 'quote-request.ulaw'), '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.ok).toBe(false);
    expect(report.outcome.next.kind).toBe('say');
    expect(report.problems.join('\n')).toContain('OpenAI rejected the API key (HTTP 401)');
  });

  it.each([
    [['--audio', 'missing.ulaw'], '--audio missing.ulaw: file not found'],
    [['--audio', 'notes.txt'], 'unknown extension ".txt"'],
    [['--audio', 'broken.wav'], 'not a WAV file (no RIFF/WAVE header)'],
    [['--audio', 'float.wav'], 'unsupported encoding (format 3, 32-bit)'],
    [['--audio', 'header.ulaw'], 'this is a WAV file; name it .wav'],
    [[], '--audio is required'],
    [['--audio', 'x.ulaw', '--speed', 'fast'], '--speed: expected a number above 0'],
    [['--audio', 'x.ulaw', '--expect-text', '(unclosed'], 'not a valid regular expression'],
  ])('bad input %j exits 2: %s', async (args, message) => {
    const dir = tmp();
    const float = Buffer.alloc(44 + 8);
    float.write('RIFF', 0, 'ascii');
    float.writeUInt32LE(44, 4);
    float.write('WAVEfmt ', 8, 'ascii');
    float.writeUInt32LE(16, 16);
    float.writeUInt16LE(3, 20);
    float.writeUInt16LE(1, 22);
    float.writeUInt32LE(8000, 24);
    float.writeUInt16LE(32, 34);
    float.write('data', 36, 'ascii');
    float.writeUInt32LE(8, 40);
    writeFiles(dir, {
      'agent.yaml': AGENT,
      'notes.txt': 'hi',
      'broken.wav': 'not audio at all',
      'x.ulaw': 'x'.repeat(800),
    });
    writeFileSync(join(dir, 'float.wav'), float);
    writeFileSync(join(dir, 'header.ulaw'), Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(400)]));
    const result = await runCli(['simulate', 'agent.yaml', ...args], {
      cwd: dir,
      env: { OPENAI_API_KEY: 'k' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('--url calls a separately started serve, signing like Twilio', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-sim' });
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    serve = await startServe(
      ['agent.yaml', '--port', '0', '--host', '127.0.0.1'],
      {
        OPENAI_API_KEY: 'sk-sim',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: 'remote-token',
        VOICE_AGENT_ADMIN_TOKEN: 'remote-admin-0123456789',
      },
      dir,
    );
    const base = serve.webhookUrl.replace('/voice/incoming', '');
    const remoteCall = [
      'simulate',
      'agent.yaml',
      '--url',
      base,
      '--audio',
      join(AUDIO, 'quote-request.ulaw'),
      '--speed',
      '4',
      '--tail',
      '0.5',
      '--json',
    ];
    const ok = await runCli(remoteCall, {
      cwd: dir,
      env: { TWILIO_AUTH_TOKEN: 'remote-token' },
      timeoutMs: 60_000,
    });
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout);
    expect(report).toMatchObject({
      ok: true,
      target: base,
      transcript: [],
      outcome: { next: { kind: 'hangup' } },
    });
    expect(report.latency.greeting_ms).toBeGreaterThanOrEqual(0);
    expect(report.latency.turns[0].latency_ms).toBeGreaterThan(0);
    expect(fake.callSessions()).toHaveLength(1); // one call (the other session is serve's start-up check)
    expect(fake.sessions).toHaveLength(2);

    // with the admin token, the report gets the server's transcript from the call's record
    const withRecord = await runCli(remoteCall, {
      cwd: dir,
      env: { TWILIO_AUTH_TOKEN: 'remote-token', VOICE_AGENT_ADMIN_TOKEN: 'remote-admin-0123456789' },
      timeoutMs: 60_000,
    });
    expect(withRecord.code).toBe(0);
    expect(JSON.parse(withRecord.stdout).transcript[0]).toMatchObject({
      role: 'agent',
      text: expect.any(String),
    });

    const wrongToken = await runCli(
      ['simulate', 'agent.yaml', '--url', base, '--audio', join(AUDIO, 'quote-request.ulaw'), '--json'],
      {
        cwd: dir,
        env: { TWILIO_AUTH_TOKEN: 'wrong' },
      },
    );
    expect(wrongToken.code).toBe(1);
    expect(JSON.parse(wrongToken.stdout).problems[0]).toContain('answered HTTP 403');

    const noToken = await runCli(
      ['simulate', 'agent.yaml', '--url', base, '--audio', join(AUDIO, 'quote-request.ulaw')],
      { cwd: dir },
    );
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('TWILIO_AUTH_TOKEN is not set');
  });
});
