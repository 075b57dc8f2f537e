import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mulawSilence, mulawTone } from '../../../src/audio/mulaw.js';
import { parseWav } from '../../../src/audio/wav.js';
import { AudioRecorder } from '../../../src/records/audio-recorder.js';

const b64 = (ms: number) => mulawTone(ms).toString('base64');

describe('AudioRecorder', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'va-rec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const wavOf = async (rec: AudioRecorder) => {
    const path = join(dir, 'out.wav');
    await rec.writeWav(path);
    await rec.discard();
    return parseWav(readFileSync(path)).data;
  };
  /** Mean level of one channel (0 caller, 1 agent) over 10 ms from `ms`. */
  const level = (data: Buffer, channel: 0 | 1, ms: number) => {
    let sum = 0;
    for (let i = ms * 8; i < (ms + 10) * 8; i++) sum += Math.abs(data.readInt16LE((i * 2 + channel) * 2));
    return sum / 80;
  };

  it('puts agent audio where it plays: after what is queued, and drops what a clear cut', async () => {
    const rec = new AudioRecorder(dir, 'CA1');
    rec.agent(b64(1000), 0); // plays 0–1000
    rec.agent(b64(1000), 100); // sent early: queued, plays 1000–2000
    rec.cleared(1500); // barge-in at 1.5 s: the rest never played
    rec.agent(b64(200), 3000);
    expect(rec.durationMs).toBe(3200);
    const data = await wavOf(rec);
    expect(data.length / 4).toBe(3200 * 8);
    expect(level(data, 1, 1400)).toBeGreaterThan(0);
    expect(level(data, 1, 1700)).toBe(0); // cut
    expect(level(data, 1, 2500)).toBe(0);
    expect(level(data, 1, 3100)).toBeGreaterThan(0);
  });

  it('puts caller frames at their stream timestamps, silence in the gaps, a late frame in its place', async () => {
    const rec = new AudioRecorder(dir, 'CA1');
    rec.caller(b64(20), 0);
    rec.caller(b64(20), 1000);
    for (let ms = 1020; ms < 3000; ms += 20) rec.caller(mulawSilence(20).toString('base64'), ms);
    rec.caller(b64(20), 1500); // late, after the window moved on
    expect(rec.durationMs).toBe(3000);
    const data = await wavOf(rec);
    expect(level(data, 0, 5)).toBeGreaterThan(0);
    expect(level(data, 0, 500)).toBe(0);
    expect(level(data, 0, 1005)).toBeGreaterThan(0);
    expect(level(data, 0, 1505)).toBeGreaterThan(0);
    expect(level(data, 0, 2000)).toBe(0);
  });

  it('writes the call to disk as it goes: memory holds a moment of it, not the call', async () => {
    const rec = new AudioRecorder(dir, 'CA1');
    for (let ms = 0; ms < 60_000; ms += 20) rec.caller(b64(20), ms);
    const track = join(dir, 'CA1.caller.ulaw');
    for (let i = 0; i < 200 && !(existsSync(track) && statSync(track).size >= 59_000 * 8); i++)
      await new Promise((r) => setTimeout(r, 10));
    // everything but the last half second is on disk before the call ends
    expect(statSync(track).size).toBeGreaterThanOrEqual(59_000 * 8);
    expect((await wavOf(rec)).length).toBe(60_000 * 8 * 4);
    expect(readdirSync(dir)).toEqual(['out.wav']);
  });

  it('a barge-in cuts agent audio already written out (the model sent a long answer early)', async () => {
    const rec = new AudioRecorder(dir, 'CA1');
    for (let i = 0; i < 10; i++) rec.agent(b64(1000), 0); // ten seconds queued at once
    await new Promise((r) => setTimeout(r, 50));
    rec.cleared(2000);
    rec.agent(b64(500), 2500);
    const data = await wavOf(rec);
    expect(data.length / 4).toBe(3000 * 8);
    expect(level(data, 1, 1900)).toBeGreaterThan(0);
    expect(level(data, 1, 2200)).toBe(0);
    expect(level(data, 1, 2700)).toBeGreaterThan(0);
  });

  it('a track that cannot be written fails the recording, not the call', async () => {
    const rec = new AudioRecorder(join(dir, 'missing'), 'CA1');
    rec.caller(b64(20), 0);
    await expect(rec.writeWav(join(dir, 'out.wav'))).rejects.toThrow(/ENOENT/);
    await rec.discard();
  });
});
