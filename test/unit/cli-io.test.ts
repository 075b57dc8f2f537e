import { describe, expect, it } from 'vitest';
import { colours } from '../../src/cli/io.js';

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
