import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/**
 * A real headless Chromium: the one shipped inside the `@sparticuz/chromium` npm package (so
 * `npm install && npm test` needs nothing else), or Debian's `/usr/bin/chromium` when that one cannot
 * start here. Flags keep it off the network (this machine's network is closed).
 */
export async function launchBrowser(): Promise<Browser> {
  const quiet = [
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--autoplay-policy=no-user-gesture-required',
  ];
  let npmShipped: Error | undefined;
  try {
    const { default: packaged } = await import('@sparticuz/chromium');
    return await chromium.launch({
      executablePath: await packaged.executablePath(),
      args: [...packaged.args, ...quiet],
      headless: true,
    });
  } catch (error) {
    npmShipped = error as Error;
  }
  if (existsSync('/usr/bin/chromium'))
    return chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', ...quiet],
      headless: true,
    });
  throw new Error(
    `no Chromium could start: @sparticuz/chromium failed (${npmShipped?.message}) and /usr/bin/chromium is missing`,
  );
}
