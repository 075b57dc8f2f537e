import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where voice-agent keeps its data (records, recordings, the moving tools' bookings): `--data-dir`,
 * else `VOICE_AGENT_DATA_DIR`, else `$XDG_DATA_HOME/voice-agent` (`~/.local/share/voice-agent`). Never
 * beside the agent file: a checkout or an image built from it must not carry a business's data.
 */
export function dataDir(env: Readonly<Record<string, string | undefined>>, flag?: string, cwd = '.'): string {
  if (flag) return resolve(cwd, flag);
  if (env.VOICE_AGENT_DATA_DIR) return resolve(cwd, env.VOICE_AGENT_DATA_DIR);
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'voice-agent');
}
