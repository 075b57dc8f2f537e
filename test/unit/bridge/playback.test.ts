import { describe, expect, it } from 'vitest';
import { PlaybackTracker } from '../../../src/bridge/playback.js';

const ms = (n: number) => n * 8; // μ-law bytes

describe('PlaybackTracker', () => {
  it('only echoed marks count as heard; between echoes the clock interpolates up to the next mark', () => {
    const p = new PlaybackTracker();
    p.received('a', 0, ms(300));
    const m1 = p.sent('a', 0, ms(100), 1000);
    const m2 = p.sent('a', 0, ms(100), 1001);
    p.sent('a', 0, ms(100), 1002);
    expect(p.playing).toBe(true);
    expect(p.heardMs('a', 1000)).toBe(0);
    expect(p.heardMs('a', 1050)).toBe(50); // playing since the first send
    expect(p.heardMs('a', 1500)).toBe(100); // never past the next unechoed mark
    p.markEchoed(m1, 1100);
    expect(p.heardMs('a', 1130)).toBe(130);
    p.markEchoed(m2, 1210); // a late echo re-anchors the playhead
    expect(p.heardMs('a', 1215)).toBe(205);
  });

  it('a barge-in cuts the item at the playhead, clamped to audio received', () => {
    const p = new PlaybackTracker();
    p.received('a', 0, ms(200));
    const m1 = p.sent('a', 0, ms(200), 0);
    p.markEchoed(m1, 200);
    // the item's audio ended, but a longer one arrived from a second content part
    expect(p.interrupt(250)).toBeUndefined(); // nothing queued: nothing to cut

    p.received('b', 1, ms(500));
    p.sent('b', 1, ms(500), 300);
    expect(p.interrupt(420)).toEqual({ itemId: 'b', contentIndex: 1, audioEndMs: 120, fullyPlayed: false });
    expect(p.playing).toBe(false);
  });

  it('ignores marks echoed because of a clear, and unknown marks', () => {
    const p = new PlaybackTracker();
    p.received('a', 0, ms(400));
    const m1 = p.sent('a', 0, ms(200), 0);
    const m2 = p.sent('a', 0, ms(200), 0);
    p.interrupt(50);
    p.markEchoed(m1, 60);
    p.markEchoed(m2, 60);
    p.markEchoed('nonsense', 60);
    expect(p.playing).toBe(false);
    expect(p.heardMs('a', 100)).toBe(0);
  });

  it('reports an item as fully played when the caller heard all of it', () => {
    const p = new PlaybackTracker();
    p.received('a', 0, ms(100));
    p.sent('a', 0, ms(100), 0);
    expect(p.interrupt(500)).toMatchObject({ audioEndMs: 100, fullyPlayed: true });
  });

  it('a later item queued behind the playing one has heard nothing', () => {
    const p = new PlaybackTracker();
    p.received('a', 0, ms(100));
    p.received('b', 0, ms(100));
    p.sent('a', 0, ms(100), 0);
    p.sent('b', 0, ms(100), 0);
    expect(p.heardMs('b', 50)).toBe(0);
    expect(p.currentItemId).toBe('a');
  });

  it('forgets an item once it has played and the next one starts', () => {
    const p = new PlaybackTracker();
    p.received('a', 0, ms(100));
    p.markEchoed(p.sent('a', 0, ms(100), 0), 100);
    expect(p.heardMs('a', 100)).toBe(100);
    p.received('b', 0, ms(100));
    expect(p.heardMs('a', 100)).toBe(0); // no longer tracked
    p.sent('b', 0, ms(100), 100);
    expect(p.heardMs('b', 150)).toBe(50);
  });
});
