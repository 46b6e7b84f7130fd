// 续费/延期, 补办 and 变更 in the browser: a key issued at the counter (`certdesk ca issue`, 30 days) and
// recorded as the organisation's (`certdesk admin adopt-key`) is renewed from 我的证书 — the
// supplier picks it, says bids are in progress and confirms, pays at the sandbox cashier, the CA
// officer approves, the key holder writes the new certificate into the key; the new certificate
// has the same public key and a later notAfter — the key near expiry is a software UKey, renewed
// through `certdesk agent` with its PIN typed in the agent's window — and once the grace is over OCSP says the old one
// was superseded. A key a year from expiry is not offered, with the date renewal opens. A lost
// key is replaced (补办): a new key is made and OCSP says the old one was compromised. A new
// company name (变更) is registered only once the CA approves and is carried by the new
// certificate's O and CN.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  startServer, startAgent, freePort, launchBrowser, screenshotDir, run, certdesk, registerOrganisation, createStaff, signIn,
  reviewOrder, payAtSandboxCashier, assertFits, png, confirmBySms, withAgentWindow,
} from './harness.mjs';

const ADMIN_PASSWORD = 'e2e-admin-pass-2026';
const ORG = '厦门续费测试有限公司';
const CREDIT_CODE = '91350500M000100E0T';
const PRODUCT = 'SM2 双证书 UKey';
const PIN = '246810';
let server;
let agent;
let browser;
let work;
let keysDir;

before(async () => {
  // The old certificates stay good for 2 seconds after the new ones are installed.
  const agentPort = await freePort();
  server = await startServer({
    adminPassword: ADMIN_PASSWORD,
    env: { CERTDESK_RENEWAL_GRACE_SECS: '2', CERTDESK_AGENT_URL: `http://127.0.0.1:${agentPort}` },
  });
  browser = await launchBrowser();
  work = mkdtempSync(join(tmpdir(), 'certdesk-e2e-renewal-'));
  keysDir = join(work, 'keys');
  mkdirSync(keysDir);
  agent = await startAgent({ site: server.base, port: agentPort, keysDir });
});

after(async () => {
  await browser?.close();
  await agent?.stop();
  await server?.stop();
});

/** A UKey's SM2 key and CSR (SM2 ID 1234567812345678), and its dual pair issued at the counter. */
async function counterKey(name, days) {
  const key = join(work, `${name}.key.pem`);
  const csr = join(work, `${name}.csr`);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', key]);
  await run('openssl', ['req', '-new', '-key', key, '-sm3', '-sigopt', 'distid:1234567812345678', '-subj', '/CN=ukey',
    '-out', csr]);
  const sign = join(work, `${name}.sign.pem`);
  const enc = join(work, `${name}.enc.pem`);
  const issued = await certdesk(['ca', '--data-dir', server.dataDir, 'issue', '--csr', csr, '--profile', 'dual', '--org', ORG,
    '--credit-code', CREDIT_CODE, '--days', String(days), '--out', sign, '--enc-out', enc,
    '--envelope-out', join(work, `${name}.envelope.der`)]);
  await certdesk(['admin', '--data-dir', server.dataDir, 'adopt-key', '--credit-code', CREDIT_CODE, '--product', PRODUCT,
    '--cert', sign, '--encryption-cert', enc]);
  const serial = issued.match(/signing certificate\s+([0-9a-f]+)/)[1].toUpperCase();
  return { csr: readFileSync(csr, 'utf8'), sign, serial };
}

/** The same, on a software UKey the agent sees: its key pair made on the key, the dual pair
 *  issued at the counter and written into it with the CA's envelope. */
async function ukeyCounterKey(name, days) {
  const keyFile = join(keysDir, `${name}.json`);
  const pins = { CERTDESK_TOKEN_PIN: PIN, CERTDESK_TOKEN_SO_PIN: 'factory-so-pin' };
  await certdesk(['token', '--key', keyFile, 'init'], pins);
  const csr = join(work, `${name}.csr`);
  await certdesk(['token', '--key', keyFile, 'gen-csr', '--out', csr], pins);
  const sign = join(work, `${name}.sign.pem`);
  const enc = join(work, `${name}.enc.pem`);
  const envelope = join(work, `${name}.envelope.der`);
  const issued = await certdesk(['ca', '--data-dir', server.dataDir, 'issue', '--csr', csr, '--profile', 'dual', '--org', ORG,
    '--credit-code', CREDIT_CODE, '--days', String(days), '--out', sign, '--enc-out', enc, '--envelope-out', envelope]);
  await certdesk(['token', '--key', keyFile, 'install', '--signing-cert', sign, '--envelope',
    envelope.replace(/\.der$/, '.skf'), '--encryption-cert', enc], pins);
  await certdesk(['admin', '--data-dir', server.dataDir, 'adopt-key', '--credit-code', CREDIT_CODE, '--product', PRODUCT,
    '--cert', sign, '--encryption-cert', enc]);
  const serial = issued.match(/signing certificate\s+([0-9a-f]+)/)[1].toUpperCase();
  return { keyFile, sign, serial };
}

async function publicKey(pemPath) {
  return run('openssl', ['x509', '-in', pemPath, '-noout', '-pubkey']);
}

async function notAfter(pemPath) {
  const line = await run('openssl', ['x509', '-in', pemPath, '-noout', '-enddate']);
  return new Date(line.trim().split('=')[1]);
}

test('a key near expiry is renewed for the same key pairs and the old certificate is superseded', async () => {
  const supplier = await registerOrganisation(browser, server.base, ORG, CREDIT_CODE, 'xm.admin');
  const staffPage = await createStaff(browser, server.base, ADMIN_PASSWORD, [['ca.qian', '钱CA', 'ca_officer']]);
  await staffPage.context().close();
  const officer = await signIn(await browser.newContext(), server.base, 'ca.qian', 'staff-pass-2026');
  const near = await ukeyCounterKey('near', 30);
  const far = await counterKey('far', 365);

  // 我的证书 → 续费: the key near expiry is offered and chosen; the other says from when.
  await supplier.getByRole('link', { name: '我的证书' }).click();
  await supplier.getByTestId(`renew-${near.serial}`).click();
  await supplier.waitForURL(/\/ca\/renewals\?key=/);
  assert.ok(await supplier.getByTestId(`choose-${near.serial}`).isChecked());
  assert.ok(await supplier.getByTestId(`choose-${far.serial}`).isDisabled());
  assert.match(await supplier.getByTestId(`renewal-${far.serial}`).textContent(),
    /尚未到续费期，\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})? 起可续费/);
  assert.match(await supplier.getByTestId(`renewal-${near.serial}`).textContent(), /可续费，续费截止 \d{4}-\d{2}-\d{2}/);

  // Bids in progress: refused until confirmed, then the order is made.
  await supplier.getByTestId('bids').check();
  await supplier.getByTestId('create-renewal').click();
  assert.match(await supplier.getByTestId('error').textContent(), /有投标正在进行.*已加密的投标文件仍可解密/);
  await supplier.getByTestId(`choose-${near.serial}`).check();
  await supplier.getByTestId('bids').check();
  await supplier.getByTestId('confirm-bids').check();
  await supplier.getByTestId('create-renewal').click();
  const made = await supplier.getByTestId('notice').textContent();
  const orderNo = made.match(/续费业务单 (\d+)/)[1];
  await assertFits(browser, await supplier.context().storageState(), `${server.base}/ca/renewals`, 'renewals');

  // 提交并支付 → the cashier → paid → the CA officer's review.
  await supplier.getByTestId(`renewal-order-${orderNo}`).getByTestId('submit-renewal').click();
  await supplier.waitForURL(new RegExp(`/orders/${orderNo}/pay`));
  assert.match(await supplier.locator('body').textContent(), /399\.00/);
  await payAtSandboxCashier(supplier);
  await reviewOrder(officer, server.base, 'second', orderNo, '审核通过');
  assert.equal(await officer.getByTestId('status').textContent(), '制证中');

  // The key holder writes the new certificate into the key through the agent: the key's
  // certificate is picked, its PIN typed twice in the agent's window (a request from the key's
  // own key pair; writing the certificates).
  await supplier.goto(`${server.base}/ca/renewals`);
  const card = supplier.getByTestId(`renewal-order-${orderNo}`);
  await card.locator('[data-testid="agent-install"]:not([disabled])').waitFor();
  const options = await card.getByTestId('agent-install-certificate').locator('option').allTextContents();
  await card.getByTestId('agent-install-certificate').selectOption({ index: options.findIndex((o) => o.includes(near.serial)) });
  await withAgentWindow(supplier, card.getByTestId('agent-install'), [PIN, PIN]);
  assert.match(await card.getByTestId('agent-installed').textContent(), /已续费：新证书已写入CA锁 .*有效期 .* 至 /);
  const onKey = await certdesk(['token', '--key', near.keyFile, 'info']);
  await supplier.goto(`${server.base}/ca/renewals`);
  assert.equal(await card.getByTestId('renewal-status').textContent(), '已完成');
  assert.equal(await card.getByTestId(`item-${near.serial}`).textContent(), '已续费');
  await supplier.screenshot({ path: join(screenshotDir, 'renewal-installed.png'), fullPage: true });

  // The new certificate: the same public key, a later end.
  const download = await supplier.request.get(
    `${server.base}/orders/${orderNo}/renewal/${near.serial}/sign.pem`);
  assert.equal(download.status(), 200);
  const renewed = join(work, 'renewed.sign.pem');
  writeFileSync(renewed, await download.body());
  assert.equal(await publicKey(renewed), await publicKey(near.sign));
  assert.ok(await notAfter(renewed) > await notAfter(near.sign), 'a later notAfter');
  const renewedSerial = (await run('openssl', ['x509', '-in', renewed, '-noout', '-serial'])).trim().split('=')[1].toLowerCase();
  assert.ok(onKey.includes(`签名证书 ${renewedSerial}`), `the renewed certificate is on the key:\n${onKey}`);

  // After the grace, the old certificate is revoked as superseded, and OCSP says so.
  for (let tries = 0; ; tries++) {
    await supplier.goto(`${server.base}/ca/renewals`);
    if ((await card.textContent()).includes('原证书已吊销')) break;
    assert.ok(tries < 40, 'the old certificate is superseded within 20 seconds');
    await new Promise((r) => setTimeout(r, 500));
  }
  const ocsp = await ocspOf(near.sign);
  assert.match(ocsp, /Cert Status: revoked/);
  assert.match(ocsp, /Reason: superseded/);
  await supplier.getByRole('link', { name: '我的证书' }).click();
  const states = await supplier.getByTestId('cert-state').allTextContents();
  assert.equal(states.filter((s) => s === '已被替换').length, 2, `${states}`);
  await supplier.screenshot({ path: join(screenshotDir, 'renewal-superseded.png'), fullPage: true });
});

/** OpenSSL asks the server's OCSP responder about `certPem`; resolves with its text answer. */
async function ocspOf(certPem) {
  const issuer = join(work, 'issuer.pem');
  const issuerDer = join(work, 'issuer.der');
  writeFileSync(issuerDer, Buffer.from(await (await fetch(`${server.base}/ca/sm2.cer`)).arrayBuffer()));
  await run('openssl', ['x509', '-inform', 'DER', '-in', issuerDer, '-out', issuer]);
  return run('openssl', ['ocsp', '-issuer', issuer, '-cert', certPem, '-url', `${server.base}/ocsp`,
    '-no_nonce', '-noverify', '-resp_text']);
}

test('补办 of a lost key: a new key is made and the old certificate is revoked as compromised', async () => {
  const supplier = await signIn(await browser.newContext(), server.base, 'xm.admin', 'admin-pass-2026');
  const officer = await signIn(await browser.newContext(), server.base, 'ca.qian', 'staff-pass-2026');
  const lost = await counterKey('lost', 200);
  assert.match(await ocspOf(lost.sign), /Cert Status: good/);

  // 我的证书 → 补办: the lost key preselected; reason, restore, pickup.
  await supplier.goto(`${server.base}/certificates`);
  await supplier.getByTestId(`replace-${lost.serial}`).click();
  await supplier.waitForURL(/\/ca\/replace\?key=/);
  assert.equal(await supplier.getByLabel('原CA锁（证书序列号）').inputValue(), lost.serial);
  await supplier.getByLabel('补办原因').selectOption('lost');
  await supplier.getByLabel('恢复原加密密钥').check();
  await supplier.getByLabel('领取方式').selectOption('pickup');
  await supplier.getByRole('button', { name: '生成补办业务单' }).click();
  const made = await supplier.getByTestId('notice').textContent();
  const orderNo = made.match(/补办业务单 (\d+)/)[1];
  await assertFits(browser, await supplier.context().storageState(), `${server.base}/ca/replace`, 'replace');
  await supplier.getByTestId('replacement-submit').click();
  await supplier.waitForURL(new RegExp(`/orders/${orderNo}/pay`));
  await payAtSandboxCashier(supplier);
  await reviewOrder(officer, server.base, 'second', orderNo, '审核通过');

  // The new key's request, made on the new blank key; the CA issues, the old is revoked.
  const fresh = join(work, 'fresh.key.pem');
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', fresh]);
  const freshCsr = await run('openssl', ['req', '-new', '-key', fresh, '-sm3', '-sigopt', 'distid:1234567812345678',
    '-subj', '/CN=ukey']);
  await supplier.goto(`${server.base}/orders/${orderNo}`);
  assert.match(await supplier.locator('main').textContent(), /原CA锁丢失/);
  // The key here is one from elsewhere (OpenSSL's): its request goes in under 高级.
  await supplier.getByText('高级：使用自备的其他CA锁').click();
  await supplier.getByLabel('证书请求').fill(freshCsr);
  await supplier.getByRole('button', { name: '提交并签发证书' }).click();
  await supplier.getByTestId('notice').waitFor();
  assert.equal(await supplier.getByTestId('status').textContent(), '已发证');
  assert.match(await supplier.locator('main').textContent(), /已于 .* 吊销/);
  const ocsp = await ocspOf(lost.sign);
  assert.match(ocsp, /Cert Status: revoked/);
  assert.match(ocsp, /Reason: keyCompromise/);
  await supplier.screenshot({ path: join(screenshotDir, 'replacement-issued.png'), fullPage: true });
});

test('变更 of the company name: registered only once the CA approves, carried by the new certificate', async () => {
  const NEW_NAME = '厦门更名科技有限公司';
  const supplier = await signIn(await browser.newContext(), server.base, 'xm.admin', 'admin-pass-2026');
  const officer = await signIn(await browser.newContext(), server.base, 'ca.qian', 'staff-pass-2026');
  const staffPage = await createStaff(browser, server.base, ADMIN_PASSWORD, [['op.zhou', '周审核', 'platform_operator']]);
  await staffPage.context().close();
  const operator = await signIn(await browser.newContext(), server.base, 'op.zhou', 'staff-pass-2026');
  const key = await ukeyCounterKey('rename', 200);

  // 我的证书 → 变更: the new name and the legal representative; the licence; the SMS check.
  await supplier.goto(`${server.base}/certificates`);
  await supplier.getByTestId(`change-${key.serial}`).click();
  await supplier.waitForURL(/\/ca\/change\?key=/);
  await supplier.getByLabel('新单位名称').fill(NEW_NAME);
  await supplier.getByLabel('法定代表人姓名').fill('张三');
  await supplier.getByLabel('法定代表人身份证号').fill('11010519491231002X');
  await supplier.getByLabel('法定代表人手机号').fill('13800138000');
  await supplier.getByRole('button', { name: '生成变更业务单' }).click();
  const orderNo = (await supplier.getByTestId('notice').textContent()).match(/变更业务单 (\d+)/)[1];
  const licence = join(work, 'licence.png');
  writeFileSync(licence, png(42));
  await supplier.getByTestId('licence-file').setInputFiles(licence);
  await supplier.getByRole('button', { name: '上传' }).click();
  assert.match(await supplier.getByTestId('notice').textContent(), /营业执照已上传/);
  await confirmBySms(supplier);
  await supplier.getByTestId('change-submit').click();
  assert.match(await supplier.getByTestId('notice').textContent(), /已提交/);
  await assertFits(browser, await supplier.context().storageState(), `${server.base}/ca/change`, 'change');

  // 初审 passes; the registration is still the old name until the CA approves.
  await reviewOrder(operator, server.base, 'initial', orderNo, '审核通过');
  await supplier.goto(`${server.base}/ca/change`);
  assert.match(await supplier.getByLabel('新单位名称').getAttribute('placeholder'), new RegExp(`现登记为：${ORG}`));
  await reviewOrder(officer, server.base, 'second', orderNo, '审核通过');
  await supplier.goto(`${server.base}/ca/change`);
  assert.match(await supplier.getByLabel('新单位名称').getAttribute('placeholder'), new RegExp(`现登记为：${NEW_NAME}`));

  // New key pairs on the key, made by the agent in the key holder's own UKey (PIN typed in the
  // agent's window): the certificate names the organisation anew.
  await supplier.getByTestId('change-issue').click();
  await supplier.locator('[data-testid="agent-issue"]:not([disabled])').waitFor();
  const keySerial = (await certdesk(['token', '--key', key.keyFile, 'info'])).match(/CA锁ID\t(\S+)/)[1];
  await supplier.getByTestId('agent-issue-key').selectOption(keySerial);
  await withAgentWindow(supplier, supplier.getByTestId('agent-issue'), [PIN, PIN]);
  await supplier.getByTestId('status').filter({ hasText: '已完成' }).waitFor();
  const onKey = await certdesk(['token', '--key', key.keyFile, 'info']);
  assert.match(onKey, new RegExp(`容器 change-${orderNo}\\tSM2\\t签名证书 [0-9a-f]+\\t加密证书 [0-9a-f]+`), onKey);
  const download = await supplier.request.get(`${server.base}/orders/${orderNo}/files/sign.pem`);
  assert.equal(download.status(), 200);
  const renamed = join(work, 'renamed.sign.pem');
  writeFileSync(renamed, await download.body());
  const subject = await run('openssl', ['x509', '-in', renamed, '-noout', '-subject', '-nameopt', 'utf8,sep_multiline']);
  assert.match(subject, new RegExp(`O=${NEW_NAME}`));
  assert.match(subject, new RegExp(`CN=${NEW_NAME}`));
  assert.match(await ocspOf(key.sign), /Reason: superseded/);
  await supplier.screenshot({ path: join(screenshotDir, 'change-issued.png'), fullPage: true });
});
