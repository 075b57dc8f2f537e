import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../src/lab/simulate/twilio-caller.js';
import { type FakeRealtimeServer, startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import { BIN, ROOT, runCli } from '../../helpers/cli.js';
import { EVERYTHING_BIN } from '../../helpers/mcp-servers.js';
import { type ServeProcess, startServe } from '../../helpers/serve-process.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

/**
 * serve never hangs, leaks or lies at start-up: every start-up error exits with the reason and
 * leaves nothing running; a slow tool server never keeps the port closed.
 */
const tmp = useTmpDir();
const AGENT = 'name: startup\ninstructions: Be brief.\n';
let fake: FakeRealtimeServer | undefined;
let serve: ServeProcess | undefined;

afterEach(async () => {
  serve?.child.kill('SIGKILL');
  serve = undefined;
  await fake?.close();
  fake = undefined;
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('serve checks the OpenAI key and endpoint before taking calls', () => {
  it('a key the endpoint refuses stops serve with the reason (exit 1); --skip-preflight starts anyway', async () => {
    fake = await startFakeRealtime({ apiKey: 'sk-right' });
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    const env = { OPENAI_API_KEY: 'sk-wrong', OPENAI_REALTIME_URL: fake.url, TWILIO_AUTH_TOKEN: 't' };
    const refused = await runCli(['serve', 'agent.yaml', '--port', '0', '--host', '127.0.0.1'], {
      cwd: dir,
      env,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('OpenAI rejected the API key (HTTP 401): check OPENAI_API_KEY');
    expect(refused.stderr).toContain('--skip-preflight');
    expect(refused.stderr).not.toContain('sk-wrong');

    serve = await startServe(
      ['agent.yaml', '--port', '0', '--host', '127.0.0.1', '--skip-preflight'],
      env,
      dir,
    );
    const ready = await fetch(serve.webhookUrl.replace('/voice/incoming', '/readyz'));
    expect(await ready.json()).toMatchObject({ realtime: 'skipped' });
  });

  it('an unreachable endpoint is named', async () => {
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    const port = await closedPort();
    const result = await runCli(['serve', 'agent.yaml', '--port', '0'], {
      cwd: dir,
      env: {
        OPENAI_API_KEY: 'k',
        OPENAI_REALTIME_URL: `ws://127.0.0.1:${port}/v1/realtime`,
        TWILIO_AUTH_TOKEN: 't',
      },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot reach OpenAI Realtime at 127.0.0.1:${port}`);
  });
});

describe('start-up errors exit with the reason and leave nothing running', () => {
  it('--public-url http:// is refused: Twilio opens media streams only over wss', async () => {
    const result = await runCli(['serve', 'agents/moving.yaml', '--public-url', 'http://voice.example.com'], {
      env: { OPENAI_API_KEY: 'k', TWILIO_AUTH_TOKEN: 't' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--public-url must be https://');
  });

  it('a malformed TWILIO_ACCOUNT_SID exits 2 before any MCP server is started', async () => {
    fake = await startFakeRealtime();
    const dir = tmp();
    const marker = join(dir, 'started');
    writeFiles(dir, {
      'spy.js': `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'); setInterval(() => {}, 1000);`,
      'agent.yaml': `${AGENT}mcp_servers:\n  - name: spy\n    command: node\n    args: [spy.js]\n`,
    });
    const result = await runCli(['serve', 'agent.yaml', '--port', '0'], {
      cwd: dir,
      env: {
        OPENAI_API_KEY: 'sk-test-key',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: 't',
        TWILIO_ACCOUNT_SID: 'ACbad',
      },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('TWILIO_ACCOUNT_SID must look like AC followed by 32 characters');
    expect(existsSync(marker)).toBe(false);
  });

  it('an unreachable tunnel server exits 1 with the reason instead of hanging', async () => {
    fake = await startFakeRealtime();
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': AGENT });
    const port = await closedPort();
    const result = await runCli(['serve', 'agent.yaml', '--port', '0', '--tunnel'], {
      cwd: dir,
      env: {
        OPENAI_API_KEY: 'sk-test-key',
        OPENAI_REALTIME_URL: fake.url,
        TWILIO_AUTH_TOKEN: 't',
        LOCALTUNNEL_HOST: `http://127.0.0.1:${port}`,
      },
      timeoutMs: 25_000,
    });
    expect(result.code).toBe(1); // not the runner's SIGKILL (null)
    expect(result.stderr).toContain(
      `cannot reach the tunnel server at http://127.0.0.1:${port} (ECONNREFUSED)`,
    );
  });

  it('a stdio command that does not exist is a located configuration error (exit 2), not a retried outage', async () => {
    const dir = tmp();
    writeFiles(dir, {
      'agent.yaml': `${AGENT}mcp_servers:\n  - name: typo\n    command: definitely-not-a-command-xyz\n`,
    });
    const result = await runCli(['validate', 'agent.yaml'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'agent.yaml:5:14 mcp_servers[0].command: "definitely-not-a-command-xyz" was not found',
    );
  });
});

describe('tool servers never hold start-up hostage', () => {
  it('a server that dies at start shows what it said on stderr', async () => {
    const dir = tmp();
    writeFiles(dir, {
      'agent.yaml': `${AGENT}mcp_servers:\n  - name: dying\n    command: node\n    args: ["-e", "console.error('boom: cannot find module ./server.js'); process.exit(3)"]\n`,
    });
    const result = await runCli(['validate', 'agent.yaml', '--check-servers'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('boom: cannot find module ./server.js');
  });

  it('a tool list longer than models handle well is warned about', async () => {
    const dir = tmp();
    const server = (name: string) =>
      `  - name: ${name}\n    command: node\n    args: [${JSON.stringify(EVERYTHING_BIN)}, stdio]\n`;
    writeFiles(dir, { 'agent.yaml': `${AGENT}mcp_servers:\n${server('one')}${server('two')}` });
    const result = await runCli(['validate', 'agent.yaml', '--check-servers'], {
      cwd: dir,
      timeoutMs: 30_000,
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /warning: .*the agent offers \d+ tools: models choose reliably among about 20/,
    );
  });

  it('a hanging server: the port opens first, the connect is bounded, /readyz names it', async () => {
    fake = await startFakeRealtime();
    const dir = tmp();
    writeFiles(dir, {
      'agent.yaml': `${AGENT}mcp_servers:\n  - name: hang\n    command: node\n    args: ["-e", "setInterval(() => {}, 1000)"]\n    connect_timeout_ms: 1000\n`,
    });
    serve = await startServe(
      ['agent.yaml', '--port', '0', '--host', '127.0.0.1'],
      { OPENAI_API_KEY: 'sk-test-key', OPENAI_REALTIME_URL: fake.url, TWILIO_AUTH_TOKEN: 't' },
      dir,
    );
    const err = serve.stderr();
    expect(err.indexOf('starting startup: listening on')).toBeLessThan(err.indexOf('connecting MCP servers'));
    expect(err).toContain('connecting MCP servers: hang unreachable, retrying');
    const ready = await fetch(serve.webhookUrl.replace('/voice/incoming', '/readyz'));
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; mcp_down: { name: string; error: string }[] };
    expect(body.status).toBe('degraded');
    expect(body.mcp_down[0]).toMatchObject({ name: 'hang' });
    expect(body.mcp_down[0]!.error).toContain('did not connect and list its tools within 1 s');
  });
});

describe('calls are never half-equipped', () => {
  it('a call that arrives while a tool server is still starting waits for it: /readyz says starting, the session has its tools', async () => {
    fake = await startFakeRealtime();
    const dir = tmp();
    const slowServer = join(ROOT, 'test/fixtures/mcp/slow-server.mjs');
    writeFiles(dir, {
      'agent.yaml': `${AGENT}greeting: Hello.\nmcp_servers:\n  - name: slow\n    command: node\n    args: [${JSON.stringify(slowServer)}]\n    env: { SLOW_MS: "2500" }\n    connect_timeout_ms: 8000\n`,
    });
    const port = await closedPort();
    const child = spawn(
      process.execPath,
      [BIN, 'serve', 'agent.yaml', '--port', String(port), '--host', '127.0.0.1'],
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          OPENAI_API_KEY: 'sk-test-key',
          OPENAI_REALTIME_URL: fake.url,
          TWILIO_AUTH_TOKEN: 't',
          VOICE_AGENT_DATA_DIR: join(dir, 'data'),
        },
        stdio: 'ignore',
      },
    );
    try {
      const base = `http://127.0.0.1:${port}`;
      // the moment a load balancer or a rolling deploy sees the process alive
      for (let tries = 0; !(await fetch(`${base}/healthz`).catch(() => undefined))?.ok; tries++) {
        if (tries > 1_500) throw new Error('serve never answered /healthz');
        await new Promise((r) => setTimeout(r, 10));
      }
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { status: string }).status).toBe('starting');
      const caller = new TwilioCaller({ webhookUrl: `${base}/voice/incoming`, authToken: 't' });
      await caller.dial();
      await caller.waitForAgent({ timeoutMs: 15_000 });
      const rt = fake.callSessions()[0]!;
      const tools = (rt.sent('session.update')[0]!.session as { tools: { name: string }[] }).tools;
      expect(tools.map((t) => t.name)).toEqual(['end_call', 'get_quote']);
      await caller.hangUp();
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('the model-lifecycle guard', () => {
  const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

  it('a model OpenAI shuts down within 90 days is named in the banner, in /readyz and as a metric, with its replacement', async () => {
    fake = await startFakeRealtime({ modelShutdowns: { 'gpt-realtime': inDays(30) } });
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': `${AGENT}model: gpt-realtime\n` });
    serve = await startServe(
      ['agent.yaml', '--port', '0', '--host', '127.0.0.1', '--metrics-port', '0'],
      { OPENAI_API_KEY: 'sk-test-key', OPENAI_REALTIME_URL: fake.url, TWILIO_AUTH_TOKEN: 't' },
      dir,
    );
    const warning =
      /the speech model gpt-realtime shuts down on \d{4}-\d\d-\d\d \(in 3[01] days\); use gpt-realtime-2\.1/;
    expect(serve.stderr()).toMatch(warning);
    const ready = (await (await fetch(serve.webhookUrl.replace('/voice/incoming', '/readyz'))).json()) as {
      status: string;
      model_warnings: string[];
    };
    expect(ready.status).toBe('ready');
    expect(ready.model_warnings).toEqual([expect.stringMatching(warning)]);
    const metricsUrl = serve.stdout().match(/Metrics:\s+(\S+)/)![1]!;
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(/voice_agent_model_shutdown_days\{role="speech",model="gpt-realtime"\} 3[01]/);
  });

  it('a model past its shutdown date stops start-up with the replacement to use (exit 1); the defaults pass', async () => {
    fake = await startFakeRealtime({ modelShutdowns: { 'gpt-4o-mini-transcribe': inDays(-1) } });
    const dir = tmp();
    writeFiles(dir, {
      'agent.yaml': `${AGENT}realtime:\n  transcription:\n    model: gpt-4o-mini-transcribe\n`,
      'ok.yaml': AGENT,
    });
    const env = { OPENAI_API_KEY: 'sk-test-key', OPENAI_REALTIME_URL: fake.url, TWILIO_AUTH_TOKEN: 't' };
    const refused = await runCli(['serve', 'agent.yaml', '--port', '0', '--host', '127.0.0.1'], {
      cwd: dir,
      env,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /the transcription model gpt-4o-mini-transcribe was shut down by OpenAI on \d{4}-\d\d-\d\d; use gpt-live-transcribe: change the agent file/,
    );
    expect(refused.stderr).not.toMatch(/\n\s+at /); // no stack trace
    serve = await startServe(['ok.yaml', '--port', '0', '--host', '127.0.0.1'], env, dir);
    expect(serve.stderr()).toContain('checking the models’ shutdown dates: none is retiring');
  });
});
