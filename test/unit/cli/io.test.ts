import { describe, expect, it } from 'vitest';
import { canAnimate, colours } from '../../../src/cli/io.js';

const io = (isTTY: boolean, env: Record<string, string> = {}) => ({
  stdout: { write: () => true, isTTY },
  stderr: { write: () => true, isTTY },
  env,
  cwd: '/',
});

describe('colours', () => {
  it('only on a terminal, and never with NO_COLOR', () => {
    expect(colours(io(true)).red('x')).toBe('\u001b[31mx\u001b[0m');
    expect(colours(io(false)).red('x')).toBe('x');
    expect(colours(io(true, { NO_COLOR: '1' })).red('x')).toBe('x');
    expect(colours(io(true, { NO_COLOR: '' })).red('x')).toBe('x');
  });
});

describe('canAnimate', () => {
  const tty = (columns: number | undefined, env: Record<string, string> = {}) => ({
    stdout: { write: () => true, isTTY: true, columns },
    stderr: { write: () => true, isTTY: true, columns },
    env,
    cwd: '/',
  });
  it('spinners only on a terminal that says how wide it is (a size-less pty made ora clear lines forever)', () => {
    expect(canAnimate(tty(100))).toBe(true);
    expect(canAnimate(tty(0))).toBe(false);
    expect(canAnimate(tty(undefined))).toBe(false);
    expect(canAnimate(tty(100, { TERM: 'dumb' }))).toBe(false);
    expect(canAnimate(io(false))).toBe(false);
  });
});
