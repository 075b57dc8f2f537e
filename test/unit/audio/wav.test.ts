import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCallerAudio } from '../../../src/audio/caller-audio.js';
import { mulawRms, mulawTone } from '../../../src/audio/mulaw.js';
import { mulawToWav, parseWav, WavFormatError, wavToMulaw } from '../../../src/audio/wav.js';
import { ROOT } from '../../helpers/cli.js';

const fixture = (name: string) => join(ROOT, 'test/fixtures/audio', name);

describe('WAV', () => {
  it('converts 16-bit PCM at 8 and 16 kHz and μ-law WAVs to 8 kHz μ-law of the right length', () => {
    expect(loadCallerAudio(fixture('booking.wav')).length).toBe(33945); // 4.24 s at 8 kHz
    expect(Math.abs(loadCallerAudio(fixture('interrupt-16k.wav')).length - 61530 / 2)).toBeLessThanOrEqual(1);
    const silence = loadCallerAudio(fixture('silence.wav'));
    expect(silence.length).toBe(16000);
    expect(mulawRms(silence)).toBeLessThan(50); // sox dithers: near, not exactly, zero
    expect(mulawRms(loadCallerAudio(fixture('booking.wav')))).toBeGreaterThan(300);
  });

  it('writes a PCM WAV that reads back as the same audio', () => {
    const tone = mulawTone(500);
    const wav = mulawToWav(tone);
    expect(parseWav(wav)).toMatchObject({ format: 1, channels: 1, sampleRate: 8000, bitsPerSample: 16 });
    expect(wav.length).toBe(44 + tone.length * 2);
    expect(wavToMulaw(wav).equals(tone)).toBe(true);
  });

  it('mixes stereo down to mono', () => {
    const wav = mulawToWav(mulawTone(100));
    const stereo = Buffer.alloc(44 + (wav.length - 44) * 2);
    wav.copy(stereo, 0, 0, 44);
    stereo.writeUInt16LE(2, 22);
    for (let i = 0; i < (wav.length - 44) / 2; i++) {
      const v = wav.readInt16LE(44 + i * 2);
      stereo.writeInt16LE(v, 44 + i * 4);
      stereo.writeInt16LE(v, 46 + i * 4);
    }
    stereo.writeUInt32LE(stereo.length - 44, 40);
    expect(wavToMulaw(stereo).length).toBe(800);
  });

  it('says what is wrong with a file it cannot use', () => {
    expect(() => wavToMulaw(Buffer.from('hello'))).toThrow(WavFormatError);
    const noData = readFileSync(fixture('booking.wav')).subarray(0, 36);
    expect(() => wavToMulaw(noData)).toThrow('no audio data chunk');
  });
});
