import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, AUTH_TOKEN } from '../../helpers/call-harness.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

/**
 * The package as a library: imported by its name (package.json `exports`, the built dist/), the way
 * an application that embeds voice-agent imports it.
 */
const lib = (await import('voice-agent' as string)) as typeof import('../../../src/index.js');

const tmp = useTmpDir();
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('startServe: serve without the CLI', () => {
  it('checks the model, answers a call, keeps its record, drains and closes; the steps go to the reporter', async () => {
    const dir = tmp();
    writeFiles(dir, {
      'agent.yaml': 'name: library\ninstructions: Be brief.\ngreeting: Hello from the library.\n',
    });
    const local = await lib.startLocalRealtime({ apiKey: API_KEY });
    closers.push(() => local.close());
    const { agent } = lib.loadAgent(join(dir, 'agent.yaml'));
    const steps: string[] = [];
    const serving = await lib.startServe({
      agent,
      logger: lib.createLogger({ level: 'error', json: true, write: () => {} }),
      dataDir: join(dir, 'data'),
      port: 0,
      host: '127.0.0.1',
      realtimeUrl: local.url,
      openaiApiKey: API_KEY,
      twilioAuthToken: AUTH_TOKEN,
      steps: async (text, run, outcome) => {
        const value = await run();
        steps.push(`${text}: ${outcome(value)}`);
        return value;
      },
    });
    closers.push(() => serving.close());
    expect(serving.role).toBe('single');
    expect(serving.webhookUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/voice\/incoming$/);
    expect(steps).toEqual([
      `checking the OpenAI Realtime endpoint and key: ${agent.model} accepted`,
      'checking the models’ shutdown dates: none is retiring',
      `starting library: listening on ${serving.boundAddress}`,
    ]);

    const caller = new lib.TwilioCaller({ webhookUrl: serving.webhookUrl, authToken: AUTH_TOKEN, speed: 4 });
    await caller.dial();
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    expect(serving.activeCalls).toBe(1);
    await caller.hangUp();
    await serving.drain(5_000);
    await serving.close();

    const store = lib.openCallStore(join(dir, 'data'));
    closers.push(() => store.close());
    const [call] = await store.list();
    expect(call).toMatchObject({ agent: 'library', outcome: 'completed' });
  });

  it('a port in use is a usage error that says what to do, and nothing is left running', async () => {
    const dir = tmp();
    writeFiles(dir, { 'agent.yaml': 'name: busy\ninstructions: Be brief.\n' });
    const { agent } = lib.loadAgent(join(dir, 'agent.yaml'));
    const base = {
      agent,
      logger: lib.createLogger({ level: 'error', json: true, write: () => {} }),
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      realtimeUrl: 'ws://127.0.0.1:9/v1/realtime',
      openaiApiKey: API_KEY,
      twilioAuthToken: AUTH_TOKEN,
      preflight: false,
    };
    const first = await lib.startServe({ ...base, port: 0 });
    closers.push(() => first.close());
    const port = Number(new URL(first.webhookUrl).port);
    await expect(lib.startServe({ ...base, port })).rejects.toThrow(
      `port ${port} is already in use: choose another with --port`,
    );
  });
});
