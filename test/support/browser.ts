import { describe } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { freePort, sleep } from './services.js';

/*
 * The real-browser suites' shared setup: Debian's Chromium driven by playwright-core (no browser
 * download) against the production build. CI installs chromium and fails rather than skip;
 * elsewhere the suites are skipped when /usr/bin/chromium is missing.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const describeBrowser = existsSync(CHROMIUM) || process.env.CI ? describe : describe.skip;
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SCREENSHOTS = join(ROOT, 'artifacts', 'screenshots');

/** How long a server may take to answer /health/ready (a limit for hangs; the suites' beforeAll allow more). */
export const SERVER_START_TIMEOUT_MS = 150_000;

export interface BrowserTestServer {
  server: ChildProcess;
  base: string;
  dataDir: string;
}

/** The production build (dist/main.js) on a free port, ready; `env` adds to the suites' settings. */
export async function startServer(env: Record<string, string>): Promise<BrowserTestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-browser-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      THROTTLE_LOGIN_LIMIT: '100000',
      THROTTLE_REFRESH_LIMIT: '100000',
      THROTTLE_LIMIT: '100000',
      THROTTLE_REGISTER_LIMIT: '100000',
      THROTTLE_MAIL_LIMIT: '100000',
      DEMO_PAGE: 'true',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // Ready is a condition, not a duration: a first start creates and migrates a new embedded
  // database, which takes far longer on a loaded 2-core machine than on an idle one.
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`dist/main.js exited (${server.exitCode ?? server.signalCode}) before it was ready on ${base}`);
    }
    try {
      if ((await fetch(`${base}/health/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      server.kill('SIGTERM');
      throw new Error(`dist/main.js was not ready on ${base} within ${SERVER_START_TIMEOUT_MS / 1000} s`);
    }
    await sleep(100);
  }
  return { server, base, dataDir };
}

/** Headless Chromium with the suites' flags. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-gpu'],
  });
}
