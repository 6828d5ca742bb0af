/**
 * Debian's Chromium driven by playwright-core (no browser download): the executable is the one
 * `which chromium` finds, and its absence is an error, never a skip (.ci/run installs it).
 */
import { execFileSync } from 'node:child_process';
import { type Browser, chromium } from 'playwright-core';

function chromiumPath(): string {
  let found = '';
  try {
    found = execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {}
  if (!found) throw new Error('chromium is not installed: `apt-get install -y chromium` (Debian) is needed for the web catalog tests');
  return found;
}

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI and this machine run as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu'] });
}
