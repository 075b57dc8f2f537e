import { describe, expect, it } from 'vitest';
import { MarkQueue } from '../../../src/bridge/mark-queue.js';

const names = (q: MarkQueue<string>) => Array.from({ length: q.size }, (_, i) => q.at(i).name);

describe('MarkQueue', () => {
  it('keeps marks oldest first while its ring wraps and grows, as the echoes of a long answer come in', () => {
    const q = new MarkQueue<string>();
    const expected: string[] = [];
    let next = 0;
    // uneven pushes and drops: the ring wraps many times and grows while wrapped
    for (let step = 0; step < 200; step++) {
      for (let i = 0; i < (step % 7) + 1; i++) {
        const name = `m${next++}`;
        q.push(name, `item${step}`, next * 100, next * 100);
        expected.push(name);
      }
      const echoed = step % 5;
      q.drop(Math.min(echoed, q.size));
      expected.splice(0, Math.min(echoed, expected.length));
      expect(names(q)).toEqual(expected);
    }
    expect(q.size).toBeGreaterThan(16); // it grew past its first capacity
    const oldest = q.at(0);
    expect(oldest.endMs).toBe(Number(oldest.name.slice(1)) * 100 + 100);
  });

  it('finds the oldest mark with a name, and forgets what it dropped', () => {
    const q = new MarkQueue<{ id: string }>();
    const a = { id: 'a' };
    q.push('m1', a, 100, 100);
    q.push('m2', a, 200, 200);
    q.push('m3', { id: 'b' }, 50, 250);
    expect(q.indexOf('m2')).toBe(1);
    expect(q.indexOf('nope')).toBe(-1);
    const dropped = q.at(0);
    q.drop(2);
    expect(q.size).toBe(1);
    expect(q.at(0)).toMatchObject({ name: 'm3', item: { id: 'b' }, endMs: 50, streamMs: 250 });
    expect(q.indexOf('m1')).toBe(-1); // gone, even though its slot is reused
    // a dropped slot lets go of its item and name, so neither outlives its echo
    expect(dropped).toEqual({ name: '', item: undefined, endMs: 100, streamMs: 100 });
    q.clear();
    expect(q.size).toBe(0);
    expect(q.indexOf('m3')).toBe(-1);
  });
});
