import { describe, expect, it } from 'vitest';
import { formatToolResult } from '../../../src/tools/tool-result.js';

/** What the model hears of a successful result. */
const heard = (r: ReturnType<typeof formatToolResult>) => {
  expect(r.ok).toBe(true);
  return r.output;
};

describe('formatToolResult', () => {
  it('prefers structured content, joins text, and skips media the voice model cannot use', () => {
    expect(
      heard(formatToolResult({ content: [{ type: 'text', text: '{"t":1}' }], structuredContent: { t: 1 } })),
    ).toBe('{"t":1}');
    expect(
      heard(
        formatToolResult({
          content: [{ type: 'text', text: 'a' }, { type: 'image' }, { type: 'text', text: 'b' }],
        }),
      ),
    ).toBe('a\n[image omitted]\nb');
  });

  it('passes the text of an embedded resource to the model; a binary resource is named', () => {
    expect(
      heard(
        formatToolResult({
          content: [
            { type: 'text', text: 'Our terms:' },
            { type: 'resource', resource: { uri: 'file:///terms.txt', text: 'Deposits are refundable.' } },
            { type: 'resource', resource: { uri: 'file:///logo.png' } },
          ],
        }),
      ),
    ).toBe('Our terms:\nDeposits are refundable.\n[resource omitted]');
  });

  it('a resource_link gives the model its name, description and address (MCP 2025-06-18)', () => {
    expect(
      heard(
        formatToolResult({
          content: [
            {
              type: 'resource_link',
              uri: 'https://swiftmovers.example/rights.pdf',
              name: 'Your Rights and Responsibilities',
              description: 'the FMCSA booklet',
            },
          ],
        }),
      ),
    ).toBe('Your Rights and Responsibilities: the FMCSA booklet (https://swiftmovers.example/rights.pdf)');
  });

  it('turns isError into an error the model can talk about', () => {
    expect(formatToolResult({ isError: true, content: [{ type: 'text', text: 'slot taken' }] })).toEqual({
      ok: false,
      code: 'tool_error',
      output: JSON.stringify({ error: 'slot taken' }),
    });
  });

  it('cuts oversized output with a note to the model', () => {
    const out = formatToolResult({ content: [{ type: 'text', text: 'x'.repeat(10_000) }] }, 100).output;
    expect(out.startsWith('x'.repeat(100))).toBe(true);
    expect(out).toContain('[output cut: 9900 more characters not shown');
  });
});
