import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sharedTestDataDir } from './tmp.js';

export const BIN = fileURLToPath(new URL('../../bin/voice-agent.js', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** Runs the real CLI as a child process (the built dist/, as a user would). */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return runScript(BIN, args, options);
}

/** Runs a script of the project (the CLI, a benchmark) with Node, as `npm run` would. */
export function runScript(script: string, args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: options.cwd ?? ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        VOICE_AGENT_DATA_DIR: sharedTestDataDir(),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
