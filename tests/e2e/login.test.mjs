import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, screenshotDir } from './harness.mjs';

const ADMIN_PASSWORD = 'e2e-admin-pass-2026';
let server;
let browser;

before(async () => {
  server = await startServer({ adminPassword: ADMIN_PASSWORD });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a wrong password shows the error and keeps the user on the login page', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.base}/`);
  assert.match(page.url(), /\/login$/, 'an anonymous visit is sent to the login page');
  await page.getByLabel('用户名').fill('admin');
  await page.getByLabel('密码').fill('not-the-password-1');
  await page.getByRole('button', { name: '登录', exact: true }).click();
  const error = page.getByTestId('login-error');
  await error.waitFor();
  assert.equal((await error.textContent()).trim(), '用户名或密码错误');
  assert.match(page.url(), /\/login$/);
  assert.equal(await page.getByLabel('用户名').inputValue(), 'admin', 'the user name is kept');
  await page.screenshot({ path: join(screenshotDir, 'login-error.png'), fullPage: true });
  await page.close();
});

test('the admin logs in, sees the workbench, and logs out', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.base}/login`);
  await page.getByLabel('用户名').fill('admin');
  await page.getByLabel('密码').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.getByRole('heading', { name: '总览' }).waitFor();
  const menu = page.getByRole('navigation', { name: '主菜单' });
  for (const item of ['总览', '发票', '消息', '账号管理', '产品与价格', '抵扣券', '审计日志', '我的账号']) {
    assert.equal(await menu.getByRole('link', { name: item, exact: true }).count(), 1, `menu item ${item}`);
  }
  // Applying, binding and the 业务单 are for organisations and the staff who process them: the
  // system admin's menu does not offer them.
  for (const item of ['CA绑定与解绑', 'CA证书申领', 'CA续费与延期', 'CA锁解锁', '证书吊销', '业务单', '初审', '复审']) {
    assert.equal(await menu.getByRole('link', { name: item, exact: true }).count(), 0, `no menu item ${item}`);
  }
  assert.match(await page.getByTestId('account').textContent(), /系统管理员/);
  await page.screenshot({ path: join(screenshotDir, 'workbench.png'), fullPage: true });

  await menu.getByRole('link', { name: '审计日志' }).click();
  await page.getByRole('heading', { name: '审计日志' }).waitFor();
  assert.match(await page.getByTestId('audit').textContent(), /登录成功/, 'the login is in the audit log');

  await page.getByRole('button', { name: '退出登录' }).click();
  await page.waitForURL(/\/login$/);
  await page.goto(`${server.base}/`);
  assert.match(page.url(), /\/login$/, 'after logout the workbench needs a new login');
  await page.close();
});
