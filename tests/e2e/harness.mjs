// Shared by the browser tests: start a real `certdesk serve` on a free port with its own data
// directory, and launch Debian's Chromium through playwright-core (never a downloaded browser).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const certdeskBin = process.env.CERTDESK_BIN ?? join(repoRoot, 'target', 'debug', 'certdesk');
export const screenshotDir = join(here, 'test-results');
export const CHROMIUM = '/usr/bin/chromium';

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

/** Starts certdesk; resolves when /healthz answers 200. */
export async function startServer({ adminPassword }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'certdesk-e2e-'));
  const port = await freePort();
  const env = { ...process.env, CERTDESK_ADMIN_PASSWORD: adminPassword };
  const child = spawn(certdeskBin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`certdesk exited early (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`certdesk did not become healthy:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    dataDir,
    output: () => output,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  mkdirSync(screenshotDir, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** Runs certdesk (e.g. `ca issue`) against the same data directory; resolves with stdout. */
export function certdesk(args) {
  return run(certdeskBin, args);
}

/** Runs a command; rejects with its output when it fails. */
export function run(command, args) {
  return new Promise((ok, fail) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`${command} ${args.join(' ')}: ${err}${out}`))));
  });
}

/** The widths every page must fit (issue 12): a phone and a laptop. */
export const VIEWPORTS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'laptop', width: 1366, height: 768 },
];

/**
 * Opens `url` at each of the VIEWPORTS (with `storageState`: a signed-in user's cookies, or
 * none), saves a screenshot, and fails when the page is wider than the window.
 */
export async function assertFits(browser, storageState, url, label) {
  const { strict: assert } = await import('node:assert');
  for (const viewport of VIEWPORTS) {
    const context = await browser.newContext({
      viewport: { width: viewport.width, height: viewport.height },
      ...(storageState ? { storageState } : {}),
    });
    const page = await context.newPage();
    await page.goto(url);
    const { scroll, client } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    await page.screenshot({ path: join(screenshotDir, `fit-${label}-${viewport.name}.png`), fullPage: true });
    await context.close();
    assert.ok(scroll <= client, `${label} at ${viewport.width}px overflows: scrollWidth ${scroll} > clientWidth ${client}`);
  }
}
