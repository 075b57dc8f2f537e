import { describe, expect, it } from 'vitest';
import { MARK_EVERY_MS, PlaybackTracker } from '../../../src/bridge/playback.js';

const ms = (n: number) => n * 8; // μ-law bytes
const M = MARK_EVERY_MS;

describe('PlaybackTracker', () => {
  it('only echoed marks count as heard; between echoes the clock interpolates up to the next mark', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(3 * M));
    const m1 = p.sent('a', ms(M), 1000)!;
    const m2 = p.sent('a', ms(M), 1001)!;
    p.sent('a', ms(M), 1002);
    expect(p.playing).toBe(true);
    expect(p.heardMs('a', 1000)).toBe(0);
    expect(p.heardMs('a', 1050)).toBe(50); // playing since the first send
    expect(p.heardMs('a', 1000 + 5 * M)).toBe(M); // never past the next unechoed mark
    p.markEchoed(m1, 1000 + M);
    expect(p.heardMs('a', 1030 + M)).toBe(M + 30);
    p.markEchoed(m2, 1010 + 2 * M); // a late echo re-anchors the playhead
    expect(p.heardMs('a', 1015 + 2 * M)).toBe(2 * M + 5);
  });

  it('a barge-in cuts the item at the playhead, clamped to audio received', () => {
    const p = new PlaybackTracker();
    p.received('r1', 'a', 0, ms(200));
    p.sent('a', ms(200), 0);
    p.markEchoed(p.markTail()!, 200);
    expect(p.interrupt(250)).toEqual([]); // everything was heard: nothing to cut

    p.received('r2', 'b', 1, ms(500));
    p.sent('b', ms(500), 300);
    expect(p.interrupt(420)).toEqual([{ itemId: 'b', responseId: 'r2', contentIndex: 1, audioEndMs: 120 }]);
    expect(p.playing).toBe(false);
  });

  it('an item queued behind one that just finished is measured from the moment the first ended', () => {
    // the wire-fidelity review's reproduction: A = 1000 ms at t=0, B = 1000 ms at t=50, A's mark at t=1000
    const p = new PlaybackTracker();
    p.received('r1', 'A', 0, ms(1000));
    const a = p.sent('A', ms(1000), 0)!;
    p.received('r2', 'B', 0, ms(1000));
    p.sent('B', ms(1000), 50);
    p.markEchoed(a, 1000);
    expect(p.interrupt(1600)).toEqual([{ itemId: 'B', responseId: 'r2', contentIndex: 0, audioEndMs: 600 }]);
  });

  it('cuts every item the caller has not heard: the playing one, the queued ones, and audio still arriving', () => {
    const p = new PlaybackTracker();
    p.received('r1', 'A', 0, ms(1000));
    p.sent('A', ms(1000), 0);
    p.received('r2', 'B', 0, ms(400));
    p.sent('B', ms(400), 10);
    p.received('r2', 'C', 0, ms(100)); // received, not yet forwarded
    expect(p.interrupt(300)).toEqual([
      { itemId: 'A', responseId: 'r1', contentIndex: 0, audioEndMs: 300 },
      { itemId: 'B', responseId: 'r2', contentIndex: 0, audioEndMs: 0 },
      { itemId: 'C', responseId: 'r2', contentIndex: 0, audioEndMs: 0 },
    ]);
  });

  it('ignores marks echoed because of a clear, and unknown marks', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(2 * M));
    const m1 = p.sent('a', ms(M), 0)!;
    const m2 = p.sent('a', ms(M), 0)!;
    p.interrupt(50);
    p.markEchoed(m1, 60);
    p.markEchoed(m2, 60);
    p.markEchoed('nonsense', 60);
    expect(p.playing).toBe(false);
    expect(p.heardMs('a', 100)).toBe(0);
  });

  it('leaves out an item the caller heard in full', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(100));
    p.sent('a', ms(100), 0);
    expect(p.interrupt(500)).toEqual([]);
  });

  it('a later item queued behind the playing one has heard nothing', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(100));
    p.received('r', 'b', 0, ms(100)); // b's audio arrives before a's was forwarded
    p.sent('a', ms(100), 0);
    p.markTail();
    p.sent('b', ms(100), 0);
    expect(p.heardMs('b', 50)).toBe(0);
    expect(p.currentItemId).toBe('a');
  });

  it('forgets an item once it has played and the next one starts', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(100));
    p.sent('a', ms(100), 0);
    p.markEchoed(p.markTail()!, 100);
    expect(p.heardMs('a', 100)).toBe(100);
    p.received('r', 'b', 0, ms(100));
    expect(p.heardMs('a', 100)).toBe(0); // no longer tracked
    p.sent('b', ms(100), 100);
    expect(p.heardMs('b', 150)).toBe(50);
  });

  it('20 ms chunks: a mark every MARK_EVERY_MS and at the item’s end; playing and the playhead in between', () => {
    expect(M).toBe(500);
    const perMark = M / 20;
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(2 * M + 60));
    const marks: (string | undefined)[] = [];
    for (let i = 0; i < 2 * perMark + 3; i++) marks.push(p.sent('a', ms(20), 1000 + i));
    const first = marks[perMark - 1];
    const second = marks[2 * perMark - 1];
    expect(marks.filter((m) => m !== undefined)).toEqual([first, second]);
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(p.playing).toBe(true); // 60 ms sent after the last mark are still queued
    expect(p.heardMs('a', 1000 + 3 * M)).toBe(M); // never past the first unechoed mark
    p.markEchoed(first!, 1000 + M);
    p.markEchoed(second!, 1000 + 2 * M);
    expect(p.playing).toBe(true);
    expect(p.heardMs('a', 1030 + 2 * M)).toBe(2 * M + 30); // the clock, bounded by the unmarked end
    expect(p.heardMs('a', 1000 + 3 * M)).toBe(2 * M + 60);
    const tail = p.markTail()!;
    expect(p.markTail()).toBeUndefined();
    p.markEchoed(tail, 1060 + 2 * M);
    expect(p.playing).toBe(false);
    expect(p.interrupt(1100 + 2 * M)).toEqual([]); // heard in full
  });

  it('a barge-in between marks cuts where the caller is, within a frame', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(10 * M));
    const marks: string[] = [];
    for (let i = 0; i < (10 * M) / 20; i++) {
      const mark = p.sent('a', ms(20), 0); // sent at once, faster than real time
      if (mark) marks.push(mark);
    }
    expect(marks).toHaveLength(10);
    for (const [i, mark] of marks.slice(0, 4).entries()) p.markEchoed(mark, (i + 1) * M); // played in real time
    expect(p.interrupt(4 * M + 37)).toEqual([
      { itemId: 'a', responseId: 'r', contentIndex: 0, audioEndMs: 4 * M + 37 },
    ]);
  });

  it('audio of the next item must wait for the previous tail mark', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(40));
    p.received('r', 'b', 0, ms(40));
    p.sent('a', ms(40), 0);
    expect(() => p.sent('b', ms(40), 0)).toThrow(/tail was marked/);
    p.markTail();
    expect(p.sent('b', ms(40), 0)).toBeUndefined();
    expect(p.currentItemId).toBe('a');
  });

  it('an item cut by a barge-in or a new model session is forgotten, even the one audio last came for', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(40));
    p.sent('a', ms(20), 0);
    p.interrupt(10);
    expect(() => p.sent('a', ms(20), 20)).toThrow(/never received/);

    p.received('r2', 'b', 0, ms(40));
    p.sent('b', ms(20), 30);
    p.forgetItems();
    expect(() => p.sent('b', ms(20), 50)).toThrow(/never received/);
    expect(p.heardMs('b', 60)).toBe(0);
  });

  it('a new model session that reuses an item id starts a new item: echoes of the old audio are not heard of it', () => {
    const p = new PlaybackTracker();
    p.received('r1', 'a', 0, ms(3 * M));
    const old = p.sent('a', ms(M), 0)!; // the old session's item, marked
    p.forgetItems(); // the model session was replaced; the sent audio still plays
    p.received('r2', 'a', 0, ms(500)); // the new session's first item has the same id
    p.sent('a', ms(100), 10);
    p.markEchoed(old, M); // the old audio ended: the new item starts playing now
    expect(p.interrupt(M + 20)).toEqual([{ itemId: 'a', responseId: 'r2', contentIndex: 0, audioEndMs: 20 }]);
  });

  it('echoes in order cost the same however far ahead the answer was generated', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(6_000 * M));
    const names = Array.from({ length: 6_000 }, () => p.sent('a', ms(M), 0)!);
    for (const [i, name] of names.entries()) p.markEchoed(name, i * M);
    expect(p.playing).toBe(false);
    expect(p.heardMs('a', 0)).toBe(6_000 * M);
  });

  it('audio kept queued ahead: every echo still moves the playhead to its own mark', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(3_000 * M));
    const queued: string[] = [];
    for (let i = 1; i <= 3_000; i++) {
      queued.push(p.sent('a', ms(M), i * M)!);
      // two marks stay queued at the phone, so the queue never empties
      if (queued.length > 2) {
        p.markEchoed(queued.shift()!, i * M);
        expect(p.heardMs('a', i * M)).toBe((i - 2) * M);
      }
    }
    expect(p.playing).toBe(true);
  });

  it('the model falls behind between marks: the playhead waits where the phone ran dry and goes on from the next send', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(400));
    for (let i = 0; i < 10; i++) expect(p.sent('a', ms(20), i)).toBeUndefined(); // 200 ms, no mark yet
    expect(p.heardMs('a', 300)).toBe(200); // played out at 200, then waiting
    for (let i = 0; i < 10; i++) p.sent('a', ms(20), 700 + i); // the rest comes 500 ms late
    expect(p.heardMs('a', 800)).toBe(300); // 100 ms of the new audio, not 400 ms of wall clock
    expect(p.interrupt(850)).toEqual([{ itemId: 'a', responseId: 'r', contentIndex: 0, audioEndMs: 350 }]);
  });

  it('the next item after the phone ran dry: the one before counts as heard until its own end comes back', () => {
    const p = new PlaybackTracker();
    p.received('r', 'A', 0, ms(200));
    p.sent('A', ms(200), 0);
    p.markTail(); // its echo is on its way
    p.received('r', 'B', 0, ms(200));
    p.sent('B', ms(200), 250);
    expect(p.interrupt(255)).toEqual([{ itemId: 'B', responseId: 'r', contentIndex: 0, audioEndMs: 0 }]);
  });

  it('an echo says what the phone still has queued: audio sent then is not taken as starting to play', () => {
    const p = new PlaybackTracker();
    p.received('r', 'a', 0, ms(3 * M));
    const first = p.sent('a', ms(M), 0)!;
    p.sent('a', ms(M), 0);
    p.markEchoed(first, M + 100); // the phone started 100 ms after the send: M ms still queued
    p.sent('a', ms(M), 2 * M + 50); // by the send times alone the phone ran dry at 2M
    expect(p.heardMs('a', 2 * M + 60)).toBe(2 * M - 40); // still playing what was queued
  });
});
