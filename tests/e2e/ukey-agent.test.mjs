// The key holder's side in the browser, with `certdesk agent` running on 127.0.0.1 (issue 14):
// at the CA's 制证 station the page writes an SM2 dual pair and both certificates into a blank
// software UKey; the supplier binds that key and logs in with it by PIN; ten wrong PINs lock
// it; a 解锁授权码 from the server unlocks it and sets a new PIN. Then the same 制证 and login
// with a P-256 product on a SoftHSM2 token through PKCS#11. PINs are typed only into the
// agent's own window; no CSR, PEM or base64 is typed or pasted anywhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  startServer, startAgent, freePort, launchBrowser, screenshotDir, run, certdesk, signIn,
  registerOrganisation, createStaff, reviewOrder, payAtSandboxCashier, png, typeInAgentWindow, withAgentWindow,
} from './harness.mjs';

const ADMIN_PASSWORD = 'e2e-admin-pass-2026';
const PIN = '246810';
const NEW_PIN = '135790';
const SOFTHSM_PIN = '654321';
const SOFTHSM_MODULES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'];
let server;
let agent;
let browser;
let work;
let keysDir;
let softhsm;
let operator;
let officer;
let agentBase;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'certdesk-e2e-ukey-'));
  keysDir = join(work, 'keys');
  mkdirSync(keysDir);
  // A SoftHSM2 token directory of the test's own, for the P-256 key.
  const module = SOFTHSM_MODULES.find((m) => existsSync(m));
  if (!module) throw new Error(`SoftHSM2 is not installed (no ${SOFTHSM_MODULES}): apt-get install softhsm2`);
  mkdirSync(join(work, 'tokens'));
  const conf = join(work, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(work, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  softhsm = { module, env: { SOFTHSM2_CONF: conf } };
  // A blank PKCS#11 token, there before the agent loads the module (as a key plugged in).
  await run('softhsm2-util', ['--init-token', '--free', '--label', 'certdesk-p256', '--pin', SOFTHSM_PIN,
    '--so-pin', 'so-123456'], softhsm.env);
  const agentPort = await freePort();
  agentBase = `http://127.0.0.1:${agentPort}`;
  server = await startServer({
    adminPassword: ADMIN_PASSWORD,
    env: { CERTDESK_AGENT_URL: `http://127.0.0.1:${agentPort}` },
  });
  agent = await startAgent({
    site: server.base, port: agentPort, keysDir, pkcs11Modules: [module], env: softhsm.env,
  });
  browser = await launchBrowser();
  const admin = await createStaff(browser, server.base, ADMIN_PASSWORD,
    [['op.ukey', '李审核', 'platform_operator'], ['ca.ukey', '赵制证', 'ca_officer']]);
  await admin.context().close();
  operator = await signIn(await browser.newContext(), server.base, 'op.ukey', 'staff-pass-2026');
  officer = await signIn(await browser.newContext(), server.base, 'ca.ukey', 'staff-pass-2026');
});

after(async () => {
  await browser?.close();
  await agent?.stop();
  await server?.stop();
});

/** A JSON API call in a signed-in page's session (its CSRF token from the page). */
async function api(page, method, path, body) {
  const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
  const response = await page.request.fetch(`${server.base}${path}`, {
    method,
    headers: { 'X-CSRF-Token': csrf, Accept: 'application/json' },
    data: body,
  });
  const text = await response.text();
  assert.ok(response.ok(), `${method} ${path}: ${response.status()} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The sandbox's mobile check of 张三 for an order (application or unlock), by API. */
async function passMobileCheck(page, orderNo) {
  await api(page, 'POST', `/api/v1/orders/${orderNo}/identity/mobile/start`,
    { name: '张三', id_number: '11010519491231002X', mobile: '13800138000' });
  const outbox = await api(page, 'GET', `/api/v1/orders/${orderNo}/identity/sandbox`);
  const sms = outbox.notices.filter((n) => n.kind === 'sms').pop().text;
  const code = sms.slice(sms.indexOf('验证码') + 3).slice(0, 6);
  const checked = await api(page, 'POST', `/api/v1/orders/${orderNo}/identity/mobile/verify`, { code });
  assert.equal(checked.status, 'passed');
}

/** A 新办 of `product` by API, from the draft to 制证中 (paid at the sandbox cashier if due). */
async function orderInIssuing(supplier, org, creditCode, product) {
  const products = await api(supplier, 'GET', '/api/v1/products');
  const productId = products.find((p) => p.name === product).id;
  const draft = await api(supplier, 'POST', '/api/v1/applications', { product_id: productId, years: 1 });
  const orderNo = draft.order.order_no;
  await api(supplier, 'PUT', `/api/v1/applications/${orderNo}`, {
    product_id: productId,
    years: 1,
    form: {
      organisation: { name: org, credit_code: creditCode, org_type: '企业', address: '福建省福州市鼓楼区五四路100号', phone: '0591-87654321', registration_place: '福建省福州市' },
      legal_rep: { name: '张三', id_number: '11010519491231002X', mobile: '13800138000', email: 'boss@example.com' },
      handler: { name: '李四', id_number: '440524188001010014', mobile: '13900139000', email: 'handler@example.com' },
      delivery: { method: 'mail', recipient: '李四', phone: '13900139000', address: '福建省福州市鼓楼区五四路100号' },
      terms_accepted: true,
    },
  });
  const csrf = await supplier.locator('meta[name="csrf-token"]').getAttribute('content');
  for (const [i, kind] of ['business_licence', 'id_card_front', 'id_card_back', 'authorisation_letter', 'service_agreement'].entries()) {
    const uploaded = await supplier.request.post(
      `${server.base}/api/v1/applications/${orderNo}/uploads/${kind}?file_name=${kind}.png`,
      { headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/octet-stream' }, data: png(i + 1) },
    );
    assert.ok(uploaded.ok(), await uploaded.text());
  }
  await passMobileCheck(supplier, orderNo);
  await api(supplier, 'POST', `/api/v1/applications/${orderNo}/submit`);
  await reviewOrder(operator, server.base, 'initial', orderNo, '审核通过');
  const order = await api(supplier, 'GET', `/api/v1/orders/${orderNo}`);
  if (order.order.status === 'awaiting_payment') {
    await supplier.goto(`${server.base}/orders/${orderNo}/pay`);
    await payAtSandboxCashier(supplier);
  }
  await reviewOrder(officer, server.base, 'second', orderNo, '审核通过');
  return orderNo;
}

/** The CA officer makes the order's keys on the one blank key the agent sees. */
async function produce(orderNo, keySerial, pins) {
  await officer.goto(`${server.base}/ca/production`);
  await officer.getByTestId('production-queue').getByText(orderNo).waitFor();
  await officer.goto(`${server.base}/ca/production/${orderNo}`);
  await officer.getByTestId('agent-ok').waitFor();
  const choice = officer.locator(`input[name="key"][value="${keySerial}"]`);
  await choice.waitFor();
  assert.ok(await choice.isChecked(), 'the blank key is chosen');
  await withAgentWindow(officer, officer.getByTestId('produce'), pins);
  await officer.getByText('制证完成').waitFor({ timeout: 30_000 });
  // The order records the key, and the operator ships it; the supplier confirms receipt.
  await operator.goto(`${server.base}/orders/${orderNo}`);
  assert.match(await operator.locator('main').textContent(), new RegExp(`CA锁ID\\s*${keySerial}（CA已制证写入）`));
  await operator.getByLabel('快递公司').fill('顺丰速运');
  await operator.getByLabel('快递单号').fill('SF1234567890');
  await operator.getByRole('button', { name: '登记发货' }).click();
  await operator.getByTestId('notice').waitFor();
}

async function confirmReceipt(supplier, orderNo) {
  await supplier.goto(`${server.base}/orders/${orderNo}`);
  supplier.once('dialog', (dialog) => dialog.accept());
  await supplier.getByTestId('confirm-receipt').click();
  await supplier.getByTestId('notice').waitFor();
}

/** Binds the first certificate the agent shows to the signed-in admin. */
async function bindWithAgent(supplier, pin) {
  await supplier.goto(`${server.base}/ca/bindings`);
  await supplier.getByTestId('agent-ok').waitFor();
  await supplier.locator('[data-testid="bind-with-agent"]:not([disabled])').waitFor();
  await withAgentWindow(supplier, supplier.getByTestId('bind-with-agent'), [pin]);
  await supplier.getByTestId('bindings').locator('tbody tr', { hasText: '张经理' }).waitFor();
}

/** On the login page, logs in with the key's certificate; answers the progress line. */
async function loginWithKey(page, pin, { certificateIndex = 0 } = {}) {
  await page.goto(`${server.base}/login`);
  await page.getByTestId('agent-ok').waitFor();
  await page.locator('[data-testid="ukey-login-button"]:not([disabled])').waitFor();
  await page.getByTestId('login-certificate').selectOption({ index: certificateIndex });
  const popupOpened = page.waitForEvent('popup');
  await page.getByTestId('ukey-login-button').click();
  const popup = await popupOpened;
  // A locked key is refused by the agent before anything is typed.
  const asked = popup.locator('#ask:not([hidden])');
  const outcome = await Promise.race([
    // The page closes the window when the agent refused without asking.
    asked.waitFor().then(() => 'asked', () => 'closed'),
    page.getByTestId('ukey-progress').filter({ hasText: '未完成' }).waitFor().then(() => 'refused'),
  ]);
  if (outcome === 'asked') {
    await typeInAgentWindow(popup, pin);
  }
  await Promise.race([
    page.getByRole('heading', { name: '总览' }).waitFor(),
    page.getByTestId('ukey-progress').filter({ hasText: '未完成' }).waitFor(),
  ]);
  if (await page.getByRole('heading', { name: '总览' }).count()) return 'signed in';
  return page.getByTestId('ukey-progress').textContent();
}

test('制证 writes an SM2 dual pair into a blank UKey; the holder binds it, logs in by PIN, locks it and unlocks it with a 解锁授权码', async () => {
  const org = '福州制证测试有限公司';
  const creditCode = '91350100M000100Y43';
  const supplier = await registerOrganisation(browser, server.base, org, creditCode, 'zz.admin');

  // Before a key is made the supplier's order page explains that the CA makes it: no CSR box
  // unless 高级 is opened.
  const orderNo = await orderInIssuing(supplier, org, creditCode, 'SM2 双证书 UKey');
  await supplier.goto(`${server.base}/orders/${orderNo}`);
  await supplier.getByTestId('production-hint').waitFor();
  assert.equal(await supplier.getByLabel('证书请求').isVisible(), false, 'the CSR box is under 高级');

  // A blank key from the factory, as the CA's station has them.
  const keyFile = join(keysDir, 'blank.json');
  await certdesk(['token', '--key', keyFile, 'init', '--label', '制证台空白锁'],
    { CERTDESK_TOKEN_PIN: PIN, CERTDESK_TOKEN_SO_PIN: 'factory-so-pin' });
  const serial = (await agentKeys()).find((k) => k.kind === 'software').serial;

  // 制证: two PINs in the agent's window (make the key pair; write the certificates).
  await produce(orderNo, serial, [PIN, PIN]);
  await officer.screenshot({ path: join(screenshotDir, 'production-done.png'), fullPage: true });
  const info = await certdesk(['token', '--key', keyFile, 'info']);
  assert.match(info, /签名证书 [0-9a-f]{16,}\s+加密证书 [0-9a-f]{16,}/i, 'both certificates are on the key');
  await confirmReceipt(supplier, orderNo);

  // Binding: pick the certificate, the agent asks for the PIN, done.
  await bindWithAgent(supplier, PIN);
  await supplier.screenshot({ path: join(screenshotDir, 'bound-with-agent.png'), fullPage: true });

  // Certificate login by PIN.
  const visitor = await (await browser.newContext()).newPage();
  assert.equal(await loginWithKey(visitor, PIN), 'signed in');
  assert.match(await visitor.getByTestId('account').textContent(), /zz\.admin/);
  await visitor.context().close();

  // Ten wrong PINs lock the key; the agent says how many tries are left each time.
  const stranger = await (await browser.newContext()).newPage();
  for (let left = 9; left >= 1; left--) {
    const said = await loginWithKey(stranger, '000000');
    assert.match(said, new RegExp(`还可以尝试${left}次`), said);
  }
  assert.match(await loginWithKey(stranger, '000000'), /已锁定/);
  assert.match(await loginWithKey(stranger, PIN), /已锁定/, 'the right PIN no longer opens it');
  await stranger.screenshot({ path: join(screenshotDir, 'ukey-locked.png'), fullPage: true });
  await stranger.context().close();

  // 解锁: the admin asks, the holder's identity is checked, the operator approves; the code
  // is typed on the unlock page and the agent sets the new PIN with the server's answer.
  const keyCertificate = (await agentKeys()).find((k) => k.serial === serial).containers[0].signing_certificate.serial;
  const unlock = await api(supplier, 'POST', '/api/v1/unlocks', {
    key_serial: keyCertificate, holder_name: '张三', holder_id_number: '11010519491231002X',
    holder_mobile: '13800138000', reason: 'PIN码输错次数过多被锁定',
  });
  await passMobileCheck(supplier, unlock.order.order_no);
  await api(supplier, 'POST', `/api/v1/unlocks/${unlock.order.order_no}/submit`);
  await reviewOrder(operator, server.base, 'initial', unlock.order.order_no, '审核通过');
  await supplier.goto(`${server.base}/ca/unlock`);
  const code = (await supplier.getByTestId('unlock-code').first().textContent()).trim();
  await supplier.getByTestId('agent-ok').waitFor();
  await supplier.locator('[data-testid="unlock-with-agent"]:not([disabled])').waitFor();
  await supplier.getByTestId('unlock-code-input').fill(code);
  await withAgentWindow(supplier, supplier.getByTestId('unlock-with-agent'), [NEW_PIN]);
  await supplier.getByTestId('unlocked').waitFor();
  await supplier.screenshot({ path: join(screenshotDir, 'ukey-unlocked.png'), fullPage: true });

  // The new PIN opens it; the code cannot be used again.
  const again = await (await browser.newContext()).newPage();
  assert.equal(await loginWithKey(again, NEW_PIN), 'signed in');
  await again.context().close();

  // The holder changes the PIN in the agent's window (the old one, then the new one twice).
  const CHANGED_PIN = '975310';
  await supplier.goto(`${server.base}/ca/unlock`);
  await supplier.locator('[data-testid="change-pin"]:not([disabled])').waitFor();
  await supplier.getByTestId('change-pin-key').selectOption(serial);
  await withAgentWindow(supplier, supplier.getByTestId('change-pin'), [NEW_PIN, CHANGED_PIN]);
  await supplier.getByTestId('pin-changed').waitFor();
  const changed = await (await browser.newContext()).newPage();
  assert.equal(await loginWithKey(changed, CHANGED_PIN), 'signed in');
  await changed.context().close();
  const reused = await supplier.request.post(`${server.base}/api/v1/unlock-codes/use`, {
    headers: { 'X-CSRF-Token': await supplier.locator('meta[name="csrf-token"]').getAttribute('content') },
    data: { key_serial: keyCertificate, code },
  });
  assert.equal(reused.status(), 409, await reused.text());
  await supplier.context().close();
});

test('制证 and login with a P-256 product on a SoftHSM2 token through PKCS#11', async () => {
  const org = '福州国际测试有限公司';
  const creditCode = '91350200M000100225';
  const supplier = await registerOrganisation(browser, server.base, org, creditCode, 'gj.admin');
  const orderNo = await orderInIssuing(supplier, org, creditCode, 'ECDSA P-256 单证书 UKey');
  const keys = await agentKeys();
  const token = keys.find((k) => k.kind === 'pkcs11');
  assert.ok(token, `the agent sees the SoftHSM2 token: ${JSON.stringify(keys)}`);
  await produce(orderNo, token.serial, [SOFTHSM_PIN, SOFTHSM_PIN]);
  await confirmReceipt(supplier, orderNo);
  const stored = (await agentKeys()).find((k) => k.serial === token.serial);
  assert.equal(stored.containers.length, 1, 'the certificate is on the token');
  assert.equal(stored.containers[0].algorithm, 'p256');

  // Bind the token's certificate, then log in with it by the token's PIN.
  await supplier.goto(`${server.base}/ca/bindings`);
  await supplier.getByTestId('agent-ok').waitFor();
  await supplier.locator('[data-testid="bind-with-agent"]:not([disabled])').waitFor();
  const options = await supplier.getByTestId('bind-certificate').locator('option').allTextContents();
  const index = options.findIndex((o) => o.includes(token.serial));
  await supplier.getByTestId('bind-certificate').selectOption({ index });
  await withAgentWindow(supplier, supplier.getByTestId('bind-with-agent'), [SOFTHSM_PIN]);
  await supplier.getByTestId('bindings').locator('tbody tr', { hasText: '张经理' }).waitFor();
  const visitor = await (await browser.newContext()).newPage();
  assert.equal(await loginWithKey(visitor, SOFTHSM_PIN, { certificateIndex: index }), 'signed in');
  assert.match(await visitor.getByTestId('account').textContent(), /gj\.admin/);
  await visitor.context().close();
  await supplier.context().close();
});

test('without the agent the pages say so in Chinese and offer 检测并修复', async () => {
  const page = await (await browser.newContext()).newPage();
  // A page of a site whose agent address answers nothing.
  await page.route(/127\.0\.0\.1:\d+\/v1\//, (route) => route.abort('connectionrefused'));
  await page.goto(`${server.base}/login`);
  const missing = page.getByTestId('agent-missing');
  await missing.waitFor();
  assert.match(await missing.textContent(), /未检测到证书助手/);
  // On the login page it is a quiet line; the steps open from it.
  await missing.locator('summary').click();
  assert.match(await missing.textContent(), /certdesk agent --site/);
  await page.getByTestId('agent-repair').click();
  await page.getByTestId('agent-report').getByText('无法连接').waitFor();
  await page.screenshot({ path: join(screenshotDir, 'agent-missing.png'), fullPage: true });
  // Once it answers again, 检测并修复 reports each check and the status comes back.
  await page.unroute(/127\.0\.0\.1:\d+\/v1\//);
  await page.getByTestId('agent-repair').click();
  await page.getByTestId('agent-report').getByText('证书助手正在运行').waitFor();
  await page.getByTestId('agent-report').getByText('平台网站可以访问').waitFor();
  await page.getByTestId('agent-report').getByText('证书助手为本站服务').waitFor();
  await page.getByTestId('agent-ok').waitFor();
  await page.context().close();
});

/** What the agent shows the site's pages (asked as the site's page would). */
async function agentKeys() {
  const response = await fetch(`${agentBase}/v1/keys`, { headers: { Origin: server.base } });
  assert.equal(response.status, 200);
  return response.json();
}
