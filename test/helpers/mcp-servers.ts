import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const EVERYTHING_BIN = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);
export const MOVING_SERVER = fileURLToPath(
  new URL('../../dist/agents/moving-tools/server.js', import.meta.url),
);
const PRELOAD = fileURLToPath(new URL('./loopback-preload.cjs', import.meta.url));

export interface HttpServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a Node MCP server that listens on PORT (0 = any), kept on loopback by the preload. */
export async function startHttpServer(
  args: string[],
  options: { port?: number; path: string; env?: Record<string, string> },
): Promise<HttpServerProcess> {
  const child = spawn(process.execPath, ['-r', PRELOAD, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(options.port ?? 0), ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 15_000);
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = stderr.match(/LOOPBACK_PORT=(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}${options.path}`,
    port,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

export const startEverythingHttp = (port?: number) =>
  startHttpServer([EVERYTHING_BIN, 'streamableHttp'], { port, path: '/mcp' });
export const startEverythingSse = () => startHttpServer([EVERYTHING_BIN, 'sse'], { path: '/sse' });
