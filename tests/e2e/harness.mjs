// Shared by the browser tests: start a real `certdesk serve` on a free port with its own data
// directory, and launch Debian's Chromium through playwright-core (never a downloaded browser).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { deflateSync, crc32 } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const certdeskBin = process.env.CERTDESK_BIN ?? join(repoRoot, 'target', 'debug', 'certdesk');
export const screenshotDir = join(here, 'test-results');
export const CHROMIUM = '/usr/bin/chromium';

export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

/** Starts certdesk (with `env` added to its environment); resolves when /healthz answers 200. */
export async function startServer({ adminPassword, env: extra = {} }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'certdesk-e2e-'));
  const port = await freePort();
  const env = { ...process.env, CERTDESK_ADMIN_PASSWORD: adminPassword, ...extra };
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

/**
 * Starts `certdesk agent` on `port` for the site at `site`, over the software UKeys in `keysDir`
 * and the tokens of `pkcs11Modules`; PINs are asked in its own page. Resolves when it answers.
 */
export async function startAgent({ site, port, keysDir, pkcs11Modules = [], env: extra = {} }) {
  const args = ['agent', '--site', site, '--keys-dir', keysDir, '--port', String(port)];
  for (const module of pkcs11Modules) args.push('--pkcs11-module', module);
  const child = spawn(certdeskBin, args, { env: { ...process.env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`certdesk agent exited early (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/health`, { headers: { Origin: site } });
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`certdesk agent did not answer:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    output: () => output,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Waits for the agent's PIN window to ask, and types `pin` there (twice for a new PIN). */
export async function typeInAgentWindow(popup, pin) {
  await popup.locator('#ask:not([hidden])').waitFor();
  if (await popup.locator('#fresh').isVisible()) {
    await popup.getByLabel('新PIN码（6–16位）').fill(pin);
    await popup.getByLabel('再次输入新PIN码').fill(pin);
  } else {
    await popup.getByLabel('PIN码', { exact: true }).fill(pin);
  }
  await popup.getByRole('button', { name: '确定' }).click();
  // After the last PIN the page may finish and close the window before it shows 等待 again.
  await popup.locator('#waiting:not([hidden])').waitFor().catch((err) => {
    if (!popup.isClosed()) throw err;
  });
}

/** Clicks `button`; the page opens the agent's window, where each of `pins` is typed in turn. */
export async function withAgentWindow(page, button, pins) {
  const popupOpened = page.waitForEvent('popup');
  await button.click();
  const popup = await popupOpened;
  assert.match(popup.url(), /^http:\/\/127\.0\.0\.1:\d+\/pin$/, 'the PIN is asked on the agent\'s own page');
  for (const pin of pins) await typeInAgentWindow(popup, pin);
  return popup;
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
export function certdesk(args, env = {}) {
  return run(certdeskBin, args, env);
}

/** Runs a command (with `env` added); rejects with its output when it fails. */
export function run(command, args, env = {}) {
  return new Promise((ok, fail) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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

/** Signs `username` in on a new page of `context`; resolves with the page at 总览. */
export async function signIn(context, base, username, password) {
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(password);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  try {
    await page.getByRole('heading', { name: '总览' }).waitFor();
  } catch (err) {
    // Say where the browser is and what the page says, not only that it timed out.
    const said = await page.locator('body').innerText().catch(() => '(no page)');
    throw new Error(`${username} did not reach 总览 (at ${page.url()}): ${said.slice(0, 600)}\n${err.message}`);
  }
  return page;
}

/** Registers an organisation with its first admin (password admin-pass-2026) and signs in. */
export async function registerOrganisation(browser, base, org, creditCode, username) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/register`);
  await page.getByLabel('单位名称').fill(org);
  await page.getByLabel('统一社会信用代码').fill(creditCode);
  await page.getByLabel('管理员姓名').fill('张经理');
  await page.getByLabel('管理员用户名').fill(username);
  await page.getByLabel('密码', { exact: true }).fill('admin-pass-2026');
  await page.getByLabel('再次输入密码').fill('admin-pass-2026');
  await page.getByRole('button', { name: '注册' }).click();
  await page.waitForURL(/\/login/);
  await page.close();
  return signIn(context, base, username, 'admin-pass-2026');
}

/** The system admin creates staff accounts, [username, name, role] each, password staff-pass-2026. */
export async function createStaff(browser, base, adminPassword, staff) {
  const context = await browser.newContext();
  const page = await signIn(context, base, 'admin', adminPassword);
  for (const [username, name, role] of staff) {
    await page.goto(`${base}/accounts`);
    await page.getByLabel('用户名').fill(username);
    await page.getByLabel('姓名').fill(name);
    await page.getByLabel('初始密码').fill('staff-pass-2026');
    await page.getByLabel('角色').selectOption(role);
    await page.getByRole('button', { name: '创建账号' }).click();
    await page.getByText(`已创建账号 ${username}`).waitFor();
  }
  return page;
}

/** A 复审 or 初审 decision from its queue. */
export async function reviewOrder(page, base, queue, orderNo, decision, reason = '') {
  await page.goto(`${base}/reviews/${queue}`);
  await page.getByTestId(`review-${orderNo}`).click();
  if (reason) await page.getByLabel('审核意见').fill(reason);
  await page.getByRole('button', { name: decision }).click();
  await page.getByTestId('notice').waitFor();
}

/** At the cashier: the sandbox "phone" pays by the QR code's link. */
export async function payAtSandboxCashier(page) {
  await page.locator('svg').first().waitFor();
  const phone = await page.context().newPage();
  const payLink = await page.getByRole('link', { name: /沙箱：模拟手机扫码支付/ }).getAttribute('href');
  await phone.goto(new URL(payLink, page.url()).href);
  await phone.getByRole('button', { name: '确认支付' }).click();
  await page.getByText('支付成功').waitFor({ timeout: 30_000 });
  await phone.close();
}

/** A real, decodable PNG of 200×150 pixels (a stamped scan stands in for it). */
export function png(seed) {
  const width = 200;
  const height = 150;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = (x + seed) & 0xff;
      raw[row + 2 + x * 3] = (y * 2) & 0xff;
      raw[row + 3 + x * 3] = seed & 0xff;
    }
  }
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}


/** The SMS confirmation of a page's sandbox outbox: send the code, read it, type it. */
export async function confirmBySms(page) {
  await page.getByRole('button', { name: '发送验证码' }).click();
  const sms = page.getByTestId('sandbox-outbox').locator('li').last();
  await sms.waitFor();
  const code = (await sms.textContent()).match(/验证码\D*(\d{6})/)[1];
  await page.getByLabel('短信验证码').fill(code);
  await page.getByRole('button', { name: '核验' }).click();
  await page.getByTestId('notice').waitFor();
}

