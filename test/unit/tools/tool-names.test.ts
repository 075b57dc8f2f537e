import { describe, expect, it } from 'vitest';
import { exposeToolNames } from '../../../src/tools/tool-names.js';

const names = (refs: [string, string][], reserved: string[] = []) =>
  Object.fromEntries(
    [
      ...exposeToolNames(
        refs.map(([server, tool]) => ({ server, tool })),
        reserved,
      ),
    ].map(([k, v]) => [k, `${v.server}/${v.tool}`]),
  );

describe('exposeToolNames', () => {
  it('keeps valid names and sanitises others to ^[a-zA-Z0-9_-]{1,64}$', () => {
    expect(
      names([
        ['s', 'get_quote'],
        ['s', 'get-sum'],
        ['s', 'files.read'],
        ['s', 'café ☕'],
      ]),
    ).toEqual({
      get_quote: 's/get_quote',
      'get-sum': 's/get-sum',
      files_read: 's/files.read',
      caf: 's/café ☕',
    });
  });

  it('prefixes the server name on a clash, with other servers and with built-ins', () => {
    expect(
      names(
        [
          ['a', 'search'],
          ['b', 'search'],
          ['b', 'end_call'],
        ],
        ['end_call', 'transfer_call'],
      ),
    ).toEqual({
      a__search: 'a/search',
      b__search: 'b/search',
      b__end_call: 'b/end_call',
    });
  });

  it('shortens long names with a stable hash and keeps them unique', () => {
    const long = 'x'.repeat(100);
    const first = names([
      ['srv', long],
      ['srv', `${long}y`],
    ]);
    const keys = Object.keys(first);
    expect(keys).toHaveLength(2);
    for (const k of keys) expect(k).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(
      names([
        ['srv', long],
        ['srv', `${long}y`],
      ]),
    ).toEqual(first); // deterministic
  });
});
