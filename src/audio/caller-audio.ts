import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { UsageError } from '../errors.js';
import { WavFormatError, wavToMulaw } from './wav.js';

/**
 * Caller audio from a file: raw μ-law 8 kHz (`.ulaw`, `.raw`, `.mulaw`) or WAV. `shown` is the path
 * as the user typed it, for messages.
 */
export function loadCallerAudio(path: string, shown = path): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--audio ${shown}: ${code === 'ENOENT' ? 'file not found' : (error as Error).message}`,
      'bad_audio',
    );
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.wav') {
    try {
      return checkLength(shown, wavToMulaw(buf));
    } catch (error) {
      if (error instanceof WavFormatError)
        throw new UsageError(`--audio ${shown}: ${error.message}`, 'bad_audio');
      throw error;
    }
  }
  if (ext === '.ulaw' || ext === '.raw' || ext === '.mulaw' || ext === '.ul') {
    if (buf.toString('ascii', 0, 4) === 'RIFF') {
      throw new UsageError(
        `--audio ${shown}: this is a WAV file; name it .wav (raw files have no header)`,
        'bad_audio',
      );
    }
    return checkLength(shown, buf);
  }
  throw new UsageError(
    `--audio ${shown}: unknown extension "${ext}"; use .ulaw/.raw (μ-law 8 kHz mono) or .wav`,
    'bad_audio',
  );
}

function checkLength(shown: string, mulaw: Buffer): Buffer {
  if (mulaw.length < 160) throw new UsageError(`--audio ${shown}: less than 20 ms of audio`, 'bad_audio');
  if (mulaw.length > 8000 * 60 * 10)
    throw new UsageError(`--audio ${shown}: longer than 10 minutes`, 'bad_audio');
  return mulaw;
}
