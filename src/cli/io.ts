/**
 * Everything the CLI touches in the outside world, injected so commands are testable and
 * `createProgram` has no side effects (house rule 7).
 */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function colours(io: CliIo, stream: 'stdout' | 'stderr' = 'stdout') {
  const on = Boolean(io[stream].isTTY) && !('NO_COLOR' in io.env && io.env.NO_COLOR !== undefined);
  const wrap = (code: number) => (text: string) => (on ? `\u001b[${code}m${text}\u001b[0m` : text);
  return { on, green: wrap(32), red: wrap(31), yellow: wrap(33), dim: wrap(2), bold: wrap(1) };
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A spinner may redraw stderr only on a real terminal that says how wide it is: a pseudo-terminal
 * with no size (some CI runners, `script`) would make the redraw clear lines without end.
 */
export function canAnimate(io: CliIo): boolean {
  const { isTTY, columns } = io.stderr;
  return Boolean(isTTY) && typeof columns === 'number' && columns > 0 && io.env.TERM !== 'dumb';
}
