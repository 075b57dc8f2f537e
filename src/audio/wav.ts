import { decodeMulaw, decodeMulawSample, encodeMulaw } from './mulaw.js';

/**
 * WAV in and out, for `simulate`. Reads μ-law (any layout Twilio could send is 8 kHz mono, but we
 * accept what sox and recorders write) and 16-bit PCM at any common rate, mono or stereo, and turns
 * it into 8 kHz μ-law. Writes 16-bit PCM 8 kHz mono, which every player opens.
 */

export class WavFormatError extends Error {}

const FORMAT_PCM = 1;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

interface WavInfo {
  format: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  data: Buffer;
}

export function parseWav(buf: Buffer): WavInfo {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new WavFormatError('not a WAV file (no RIFF/WAVE header)');
  }
  let fmt: Omit<WavInfo, 'data'> | undefined;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new WavFormatError('malformed fmt chunk');
      let format = buf.readUInt16LE(body);
      if (format === FORMAT_EXTENSIBLE && size >= 26) format = buf.readUInt16LE(body + 24);
      fmt = {
        format,
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        bitsPerSample: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!fmt) throw new WavFormatError('data chunk before fmt chunk');
      const end = Math.min(buf.length, body + size); // tolerate streamed files with a bogus size
      return { ...fmt, data: buf.subarray(body, end) };
    }
    offset = body + size + (size % 2);
  }
  throw new WavFormatError('no audio data chunk');
}

/** Linear-interpolation resampling; fine for speech into an 8 kHz phone channel. */
function resample(samples: Int16Array, from: number, to: number): Int16Array {
  if (from === to) return samples;
  const outLength = Math.floor((samples.length * to) / from);
  const out = new Int16Array(outLength);
  const step = from / to;
  for (let i = 0; i < outLength; i++) {
    const pos = i * step;
    const j = Math.floor(pos);
    const frac = pos - j;
    const a = samples[j] ?? 0;
    const b = samples[j + 1] ?? a;
    out[i] = Math.round(a + (b - a) * frac);
  }
  return out;
}

/** Converts any supported WAV to 8 kHz mono μ-law. */
export function wavToMulaw(buf: Buffer): Buffer {
  const wav = parseWav(buf);
  const { format, channels, sampleRate, bitsPerSample, data } = wav;
  if (channels < 1 || channels > 2) throw new WavFormatError(`${channels} channels: expected mono or stereo`);
  if (sampleRate < 4000 || sampleRate > 192000)
    throw new WavFormatError(`unusual sample rate ${sampleRate} Hz`);
  let mono: Int16Array;
  if (format === FORMAT_MULAW && bitsPerSample === 8) {
    const decoded = decodeMulaw(data);
    if (channels === 1 && sampleRate === 8000) return Buffer.from(data);
    mono = channels === 1 ? decoded : decoded.filter((_, i) => i % 2 === 0);
  } else if (format === FORMAT_PCM && bitsPerSample === 16) {
    const frames = Math.floor(data.length / (2 * channels));
    mono = new Int16Array(frames);
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) sum += data.readInt16LE((i * channels + c) * 2);
      mono[i] = Math.round(sum / channels);
    }
  } else {
    throw new WavFormatError(
      `unsupported encoding (format ${format}, ${bitsPerSample}-bit): use μ-law or 16-bit PCM (e.g. sox in.wav -b 16 -e signed-integer out.wav)`,
    );
  }
  return encodeMulaw(resample(mono, sampleRate, 8000));
}

/** 8 kHz μ-law → a 16-bit PCM 8 kHz mono WAV file. */
export function mulawToWav(mulaw: Buffer): Buffer {
  return pcmWav(decodeMulaw(mulaw), 1);
}

/**
 * The 44-byte header of a 16-bit PCM 8 kHz WAV of `frames` sample frames (one sample per channel
 * each): written before its data, so a recording can be streamed to a file.
 */
export function pcmWavHeader(frames: number, channels: number): Buffer {
  const dataBytes = frames * channels * 2;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(FORMAT_PCM, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000 * 2 * channels, 28);
  header.writeUInt16LE(2 * channels, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/**
 * The first `frames` samples of two μ-law tracks as interleaved 16-bit PCM stereo (left, right) in
 * `out` (little-endian, 4 bytes a frame): one chunk of a recording being written.
 */
export function interleaveMulaw(left: Uint8Array, right: Uint8Array, frames: number, out: Buffer): void {
  for (let i = 0; i < frames; i++) {
    out.writeInt16LE(decodeMulawSample(left[i]!), i * 4);
    out.writeInt16LE(decodeMulawSample(right[i]!), i * 4 + 2);
  }
}

function pcmWav(samples: Int16Array, channels: number): Buffer {
  const header = pcmWavHeader(samples.length / channels, channels);
  return Buffer.concat([header, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]);
}
