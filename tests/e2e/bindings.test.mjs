// CA绑定与解绑 in the browser: an organisation admin binds a certificate to an employee and
// unbinds it; an employee is refused when binding for someone else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { sign } from 'node:crypto';
import { startServer, launchBrowser, screenshotDir, certdesk, run } from './harness.mjs';

const CREDIT_CODE = '91350100M000100Y43';
const ORG = '福州测试科技有限公司';
let server;
let browser;
let cert;
let key;

before(async () => {
  server = await startServer({ adminPassword: 'e2e-admin-pass-2026' });
  browser = await launchBrowser();
  // A key holder's P-256 key and CSR, made by OpenSSL; the certificate issued by our CA.
  const work = mkdtempSync(join(tmpdir(), 'certdesk-e2e-cert-'));
  await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', join(work, 'key.pem'), '-out', join(work, 'req.csr'), '-subj', '/CN=ukey']);
  await certdesk(['ca', '--data-dir', server.dataDir, 'issue', '--csr', join(work, 'req.csr'), '--profile', 'sign',
    '--org', ORG, '--credit-code', CREDIT_CODE, '--days', '365', '--out', join(work, 'cert.pem')]);
  cert = readFileSync(join(work, 'cert.pem'), 'utf8');
  key = readFileSync(join(work, 'key.pem'), 'utf8');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** What the UKey's helper does: sign the challenge shown on the page (DER, base64). */
function signChallenge(message) {
  return sign('sha256', Buffer.from(message, 'utf8'), key).toString('base64');
}

async function login(page, username, password) {
  await page.goto(`${server.base}/login`);
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(password);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.getByRole('heading', { name: '总览' }).waitFor();
}

test('an admin binds a certificate to an employee and unbinds it; an employee cannot bind for others', async () => {
  const admin = await browser.newContext();
  const page = await admin.newPage();

  // The organisation registers with its first admin.
  await page.goto(`${server.base}/register`);
  await page.getByLabel('单位名称').fill(ORG);
  await page.getByLabel('统一社会信用代码').fill(CREDIT_CODE);
  await page.getByLabel('管理员姓名').fill('张经理');
  await page.getByLabel('管理员用户名').fill('fz.admin');
  await page.getByLabel('密码', { exact: true }).fill('admin-pass-2026');
  await page.getByLabel('再次输入密码').fill('admin-pass-2026');
  await page.getByRole('button', { name: '注册' }).click();
  await page.waitForURL(/\/login/);
  await login(page, 'fz.admin', 'admin-pass-2026');

  // The admin creates an employee.
  await page.getByRole('link', { name: '账号管理' }).click();
  await page.getByLabel('用户名').fill('fz.wang');
  await page.getByLabel('姓名').fill('王小明');
  await page.getByLabel('初始密码').fill('employee-pass-2026');
  await page.getByRole('button', { name: '创建账号' }).click();
  await page.getByText('已创建账号 fz.wang').waitFor();

  // Bind the certificate to the employee.
  await page.getByRole('link', { name: 'CA绑定与解绑' }).click();
  // The OpenSSL key is one "from elsewhere": its signature goes in by hand, under 高级.
  await page.getByText('高级：没有证书助手时手工提交签名').click();
  await page.locator('#manual-account').selectOption({ label: '王小明（fz.wang）' });
  const message = await page.getByTestId('challenge-message').inputValue();
  await page.getByLabel('签名证书').fill(cert);
  await page.getByLabel('签名值').fill(signChallenge(message));
  await page.getByRole('button', { name: '提交', exact: true }).click();
  await page.getByTestId('form-notice').waitFor();
  const row = page.getByTestId('bindings').locator('tbody tr').first();
  assert.match(await row.textContent(), /王小明/);
  assert.match(await row.textContent(), /certdesk CA/);
  assert.match(await row.textContent(), /张经理/, 'who bound it');
  await page.screenshot({ path: join(screenshotDir, 'bindings.png'), fullPage: true });

  // The same certificate cannot bind a second account.
  await page.getByText('高级：没有证书助手时手工提交签名').click();
  await page.locator('#manual-account').selectOption({ index: 0 });
  const again = await page.getByTestId('challenge-message').inputValue();
  await page.getByLabel('签名证书').fill(cert);
  await page.getByLabel('签名值').fill(signChallenge(again));
  await page.getByRole('button', { name: '提交', exact: true }).click();
  assert.match(await page.getByTestId('form-error').textContent(), /已绑定账号 fz\.wang/);

  // Filter by name, then unbind with confirmation.
  await page.getByPlaceholder('请输入').nth(1).fill('小明');
  await page.getByRole('button', { name: '搜索' }).click();
  assert.equal(await page.getByTestId('bindings').locator('tbody tr').count(), 1);
  page.once('dialog', (dialog) => {
    assert.match(dialog.message(), /确定要解除CA绑定吗/);
    dialog.accept();
  });
  await page.getByRole('button', { name: '解除绑定' }).click();
  await page.getByTestId('bindings').getByText('暂无数据').waitFor();
  const adminId = (await (await page.request.get(`${server.base}/api/v1/me`)).json()).id;

  // The employee sees no other accounts to bind for, and a forged request is refused.
  const employee = await browser.newContext();
  const epage = await employee.newPage();
  await login(epage, 'fz.wang', 'employee-pass-2026');
  await epage.getByRole('link', { name: 'CA绑定与解绑' }).click();
  await epage.getByText('高级：没有证书助手时手工提交签名').click();
  assert.equal(await epage.locator('#manual-account option').count(), 1, 'only the current account');
  assert.equal(await epage.locator('#bind-account option').count(), 1, 'only the current account');
  assert.equal(await epage.getByRole('link', { name: '账号管理' }).count(), 0);
  await epage.evaluate((id) => {
    const select = document.getElementById('manual-account');
    select.add(new Option('管理员', String(id)));
    select.value = String(id);
  }, adminId);
  const emessage = await epage.getByTestId('challenge-message').inputValue();
  await epage.getByLabel('签名证书').fill(cert);
  await epage.getByLabel('签名值').fill(signChallenge(emessage));
  await epage.getByRole('button', { name: '提交', exact: true }).click();
  assert.match(await epage.getByTestId('form-error').textContent(), /没有权限/);
  await epage.screenshot({ path: join(screenshotDir, 'bindings-employee-refused.png'), fullPage: true });

  // Binding for itself works.
  await epage.getByText('高级：没有证书助手时手工提交签名').click();
  await epage.locator('#manual-account').selectOption({ index: 0 });
  const own = await epage.getByTestId('challenge-message').inputValue();
  await epage.getByLabel('签名证书').fill(cert);
  await epage.getByLabel('签名值').fill(signChallenge(own));
  await epage.getByRole('button', { name: '提交', exact: true }).click();
  await epage.getByTestId('form-notice').waitFor();
  await admin.close();
  await employee.close();
});
