import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/**
 * Whether a stdio MCP server's command can be started: a path (relative to `cwd`) to an executable
 * file, or a name found on `PATH`. Checked before spawning, so a typo is a configuration error with
 * a location, not an outage retried forever.
 */
export function commandExists(command: string, cwd: string, path: string | undefined): boolean {
  if (command.includes('/') || isAbsolute(command)) return isExecutable(resolve(cwd, command));
  return (path ?? '').split(delimiter).some((dir) => dir !== '' && isExecutable(join(dir, command)));
}

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
