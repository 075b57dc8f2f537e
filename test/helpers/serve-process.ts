import { type ChildProcess, spawn } from 'node:child_process';
import { BIN, ROOT } from './cli.js';
import { sharedTestDataDir } from './tmp.js';

export interface ServeProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The webhook URL serve printed. */
  webhookUrl: string;
  exited: Promise<number | null>;
}

/** Starts `voice-agent serve` as a child process and waits until it prints its webhook URL. */
export async function startServe(
  args: string[],
  env: Record<string, string>,
  cwd = ROOT,
  /** The CLI to run: the checkout's, or an installed package's. */
  bin = BIN,
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [bin, 'serve', ...args], {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      VOICE_AGENT_DATA_DIR: sharedTestDataDir(),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const webhookUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}\n${err}`)), 15_000);
    // the banner (text), or its JSON log line with --json-logs
    const check = () => {
      const match = out.match(/webhook \(POST\): (\S+)/) ?? err.match(/"webhookUrl":"([^"]+)"/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${out}\n${err}`));
    });
  });
  return { child, stdout: () => out, stderr: () => err, webhookUrl, exited };
}
