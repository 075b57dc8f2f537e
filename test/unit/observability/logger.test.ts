import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';

describe('the readable log format', () => {
  it('a newline or an ANSI sequence in a peer value cannot forge a line or reach the terminal raw', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });
    const forged = 'x\n22:00:00 ERROR [CA0000] FORGED: admin \u001b[2J';
    logger.child({ callSid: 'CA1\r\nINJECTED' }).info({ event: forged }, `ignoring ${forged}`);
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line!.split('\n')).toEqual([expect.any(String), '']); // exactly one line
    expect(line).not.toContain('\u001b');
    expect(line).toContain('event=x\\n22:00:00 ERROR [CA0000] FORGED: admin \\u001b[2J');
    expect(line).toContain('[CA1\\r\\nINJECTED]');
  });

  it('keeps ordinary text as it is', () => {
    const lines: string[] = [];
    createLogger({ write: (line) => lines.push(line) }).info({ tool: 'get_quote' }, 'tool ran in 12 ms – ok');
    expect(lines[0]).toMatch(/ INFO tool ran in 12 ms – ok tool=get_quote\n$/);
  });
});
