import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../../src/lab/simulate/twilio-caller.js';
import { type FakeRealtimeServer, startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import { ROOT } from '../../helpers/cli.js';
import { type ServeProcess, startServe } from '../../helpers/serve-process.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

/**
 * What `npm publish` would ship: `npm pack`, installed into an empty folder from the tarball, runs
 * `voice-agent` there — outside the checkout, as `npx voice-agent` would after publishing.
 */
const tmp = useTmpDir();
let fake: FakeRealtimeServer | undefined;
let serve: ServeProcess | undefined;

afterEach(async () => {
  serve?.child.kill('SIGKILL');
  serve = undefined;
  await fake?.close();
  fake = undefined;
});

describe('the packed package', () => {
  it('installs from its tarball into an empty folder and serves a call there', async () => {
    const dir = tmp();
    // dist/ is built by `npm test` before the tests run; packing must not rebuild it
    const tarball = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], {
      cwd: ROOT,
    })
      .toString()
      .trim()
      .split('\n')
      .at(-1)!;
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFiles(app, {
      'package.json': '{ "name": "my-phone-agent", "private": true }\n',
      'agent.yaml': 'name: packed\ninstructions: Be brief.\ngreeting: Hello from the package.\n',
    });
    // every file of ours comes from the tarball, every dependency from the registry (or npm's cache);
    // only better-sqlite3's native build (a minute of compiling SQLite) is the checkout's own, of the
    // same locked version for the same Node
    execFileSync(
      'npm',
      [
        'install',
        join(dir, tarball),
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--loglevel=error',
      ],
      { cwd: app, env: { ...process.env, npm_config_update_notifier: 'false' }, stdio: 'pipe' },
    );
    const sqlite = (root: string) => join(root, 'node_modules', 'better-sqlite3');
    const versionOf = (dir: string) =>
      (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    expect(versionOf(sqlite(app))).toBe(versionOf(sqlite(ROOT)));
    cpSync(join(sqlite(ROOT), 'build'), join(sqlite(app), 'build'), { recursive: true });
    const bin = join(app, 'node_modules', '.bin', 'voice-agent');
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    expect(execFileSync(bin, ['--version'], { cwd: app }).toString().trim()).toBe(version);
    // the shipped moving agent validates where it was installed
    const moving = execFileSync(bin, ['validate', 'node_modules/voice-agent/agents/moving.yaml'], {
      cwd: app,
    });
    expect(moving.toString()).toContain('is valid');

    fake = await startFakeRealtime({ apiKey: 'sk-pack' });
    serve = await startServe(
      ['agent.yaml', '--port', '0', '--host', '127.0.0.1'],
      { OPENAI_API_KEY: 'sk-pack', OPENAI_REALTIME_URL: fake.url, TWILIO_AUTH_TOKEN: 'pack-token' },
      app,
      bin,
    );
    const caller = new TwilioCaller({ webhookUrl: serve.webhookUrl, authToken: 'pack-token' });
    await caller.dial();
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await caller.hangUp();
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  }, 180_000);
});
