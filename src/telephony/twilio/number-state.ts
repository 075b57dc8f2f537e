import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { VoiceSettings } from './numbers.js';

/**
 * The settings a number had before voice-agent changed it, kept so `--restore` (or serve's shutdown)
 * can put them back. One small JSON file per number; no secrets in it.
 * Folder: $VOICE_AGENT_STATE_DIR, else ~/.config/voice-agent/numbers.
 */
export interface SavedNumber {
  phone_number: string;
  sid: string;
  saved_at: string;
  previous: VoiceSettings;
}

export function stateDir(env: Readonly<Record<string, string | undefined>>): string {
  return (
    env.VOICE_AGENT_STATE_DIR ??
    join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'voice-agent', 'numbers')
  );
}

const fileFor = (dir: string, e164: string) => join(dir, `${e164.replace('+', '')}.json`);

export function readSaved(dir: string, e164: string): SavedNumber | undefined {
  try {
    return JSON.parse(readFileSync(fileFor(dir, e164), 'utf8')) as SavedNumber;
  } catch {
    return undefined;
  }
}

/**
 * Saves the previous settings unless some are already saved: a second configure must not replace
 * the original settings with voice-agent's own.
 */
export function saveOnce(dir: string, saved: SavedNumber): { path: string; kept: boolean } {
  const path = fileFor(dir, saved.phone_number);
  if (readSaved(dir, saved.phone_number)) return { path, kept: true };
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  return { path, kept: false };
}

export function forgetSaved(dir: string, e164: string): void {
  rmSync(fileFor(dir, e164), { force: true });
}
