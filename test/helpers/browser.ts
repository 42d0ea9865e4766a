// A real browser for the tests: Debian's chromium, headless, driven by playwright-core (never a
// browser build downloaded by Playwright). Without /usr/bin/chromium the browser tests are
// skipped, unless LEDGER_REQUIRE_SERVICES=1 (CI, whose .ci/run installs it) says to fail them.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { servicesRequired } from './services.js';

export const chromiumPath = '/usr/bin/chromium';

/** Top-level await in a test file: `describe.runIf(haveChromium())(...)`. */
export function haveChromium(): boolean {
  if (existsSync(chromiumPath)) return true;
  if (servicesRequired) {
    throw new Error(`${chromiumPath} is required (apt-get install chromium) but missing`);
  }
  return false;
}

// This machine's network is closed: every background connection chromium would try is off.
const quietArguments = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  /** A new page that records its console errors and uncaught exceptions. */
  page(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

/** Starts chromium with a fresh profile folder, removed again by close(). */
export async function startBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'ledger-ui-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: quietArguments,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    async page() {
      const page = await context.newPage();
      // A locator waits this long for its element: short, so that expect.poll asks again.
      page.setDefaultTimeout(2_000);
      page.setDefaultNavigationTimeout(30_000);
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
      return { page, errors };
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
