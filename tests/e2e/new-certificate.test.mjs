// 新办 in the browser: a supplier applies for a UKey certificate from the empty form, the
// platform operator and the CA officer review it, the supplier pays at the sandbox cashier,
// hands in the key's CSR, the operator ships the key and the supplier confirms receipt; and a
// rejected application is edited and resubmitted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  startServer, launchBrowser, screenshotDir, run, assertFits, signIn, registerOrganisation, createStaff,
  reviewOrder, payAtSandboxCashier, png, confirmBySms,
} from './harness.mjs';

const ADMIN_PASSWORD = 'e2e-admin-pass-2026';
const PAID_PRODUCT = 'SM2 双证书 UKey（标准价）';
let server;
let browser;
let sm2Csr;

before(async () => {
  server = await startServer({ adminPassword: ADMIN_PASSWORD });
  browser = await launchBrowser();
  // The key holder's SM2 key and CSR, made by OpenSSL as a UKey's helper would (SM2 ID 1234567812345678).
  const work = mkdtempSync(join(tmpdir(), 'certdesk-e2e-new-'));
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', join(work, 'key.pem')]);
  await run('openssl', ['req', '-new', '-key', join(work, 'key.pem'), '-sm3', '-sigopt', 'distid:1234567812345678',
    '-subj', '/CN=ukey', '-out', join(work, 'req.csr')]);
  sm2Csr = readFileSync(join(work, 'req.csr'), 'utf8');
  await setUpStaff();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function login(context, username, password) {
  return signIn(context, server.base, username, password);
}

/** The system admin creates the platform operator and the CA officer. */
async function setUpStaff() {
  const page = await createStaff(browser, server.base, ADMIN_PASSWORD,
    [['op.li', '李审核', 'platform_operator'], ['ca.zhao', '赵CA', 'ca_officer']]);
  await setUpCatalogue(page);
  await page.context().close();
}

function registerSupplier(org, creditCode, username) {
  return registerOrganisation(browser, server.base, org, creditCode, username);
}

/** From the empty form to 待初审: product, fields, documents, identity check, terms. */
async function applyFor(page, { product }) {
  await page.getByRole('link', { name: 'CA证书申领' }).click();
  const option = page.locator('#product option', { hasText: product });
  await page.getByLabel('产品').selectOption(await option.getAttribute('value'));
  await page.getByLabel('有效期').selectOption('1');
  await page.getByRole('button', { name: '开始申领' }).click();
  await page.waitForURL(/\/orders\/\d{19,}\/edit/);
  const orderNo = (await page.getByTestId('order-no').textContent()).trim();
  await assertFits(browser, await page.context().storageState(), page.url(), 'application-form');

  // Submitting the empty form first: every missing field is named next to it.
  await page.getByRole('button', { name: '提交审核' }).click();
  await page.getByTestId('form-error').waitFor();
  assert.match(await page.getByTestId('error-lr_id_number').textContent(), /请填写法定代表人身份证号码/);
  assert.match(await page.getByTestId('error-terms_accepted').textContent(), /请阅读并同意/);
  await page.screenshot({ path: join(screenshotDir, 'application-form-errors.png'), fullPage: true });

  await page.getByLabel('单位类型').selectOption('企业');
  await page.getByLabel('单位地址').fill('福建省福州市鼓楼区五四路100号');
  await page.getByLabel('单位电话').fill('0591-87654321');
  await page.getByLabel('注册地').fill('福建省福州市');
  const person = async (section, [name, id, mobile, email]) => {
    const card = page.locator('section.card', { has: page.getByRole('heading', { name: section }) });
    await card.getByLabel('姓名').fill(name);
    await card.getByLabel('身份证号码').fill(id);
    await card.getByLabel('手机号码').fill(mobile);
    await card.getByLabel('电子邮箱').fill(email);
  };
  // A wrong check digit first: the form says so and keeps what was typed.
  await person('法定代表人', ['张三', '110105194912310021', '13800138000', 'boss@example.com']);
  await person('经办人', ['李四', '440524188001010014', '13900139000', 'handler@example.com']);
  await page.getByLabel('邮寄').check();
  await page.getByLabel('收件人', { exact: true }).fill('李四');
  await page.getByLabel('收件人手机').fill('13900139000');
  await page.getByLabel('收件地址').fill('福建省福州市鼓楼区五四路100号');
  await page.getByLabel('我已阅读并同意《数字证书服务协议》').check();
  await page.getByRole('button', { name: '提交审核' }).click();
  assert.match(await page.getByTestId('error-lr_id_number').textContent(), /校验位不正确/);
  await page.locator('section.card', { has: page.getByRole('heading', { name: '法定代表人' }) })
    .getByLabel('身份证号码').fill('11010519491231002X');
  await page.getByRole('button', { name: '保存草稿' }).click();
  await page.getByText('草稿已保存').waitFor();

  // A 7 MB scan is refused in Chinese with the form shown again, and a field typed but not
  // saved is still there (the upload button belongs to the form: it saves what was typed).
  await page.getByLabel('单位电话').fill('0591-88889999');
  await page.getByTestId('file-business_licence').setInputFiles({
    name: 'big-scan.png', mimeType: 'image/png', buffer: Buffer.alloc(7 * 1024 * 1024, 1),
  });
  await page.getByTestId('file-business_licence').locator('xpath=..').getByRole('button', { name: '上传' }).click();
  // Told beside its own row.
  await page.getByTestId('uploaded-business_licence').getByTestId('upload-error').waitFor();
  assert.match(await page.getByTestId('upload-error').textContent(), /big-scan\.png.*超过/);
  assert.equal(await page.getByLabel('单位电话').inputValue(), '0591-88889999');
  await page.screenshot({ path: join(screenshotDir, 'upload-too-large.png'), fullPage: true });
  await page.getByLabel('单位电话').fill('0591-87654321');

  // Documents: an executable named .jpg is refused with its reason; real scans are taken.
  await page.getByTestId('file-business_licence').setInputFiles({
    name: 'licence.jpg', mimeType: 'image/jpeg', buffer: readFileSync('/usr/bin/true'),
  });
  await page.getByTestId('file-business_licence').locator('xpath=..').getByRole('button', { name: '上传' }).click();
  await page.getByTestId('upload-error').waitFor();
  assert.match(await page.getByTestId('upload-error').textContent(), /licence\.jpg/);
  const kinds = ['business_licence', 'id_card_front', 'id_card_back', 'authorisation_letter', 'service_agreement'];
  for (const [i, kind] of kinds.entries()) {
    await page.getByTestId(`file-${kind}`).setInputFiles({ name: `${kind}.png`, mimeType: 'image/png', buffer: png(i * 40) });
    await page.getByTestId(`file-${kind}`).locator('xpath=..').getByRole('button', { name: '上传' }).click();
    await page.getByTestId(`uploaded-${kind}`).getByText(`${kind}.png`).waitFor();
  }

  await passIdentityCheck(page);
  await page.getByRole('button', { name: '提交审核' }).click();
  // The notice is the session's, shown once; the address carries no text.
  await page.waitForURL(new RegExp(`/orders/${orderNo}$`));
  await page.getByText('申请已提交，等待平台初审').waitFor();
  assert.equal(await page.getByTestId('status').textContent(), '待初审');
  await page.getByTestId('deadline').waitFor();
  return orderNo;
}

function review(page, queue, orderNo, decision, reason = '') {
  return reviewOrder(page, server.base, queue, orderNo, decision, reason);
}

test('a new UKey certificate: empty form → two reviews → sandbox payment → issued → shipped → received', async () => {
  await assertFits(browser, null, `${server.base}/register`, 'register');
  const supplier = await registerSupplier('福州测试科技有限公司', '91350100M000100Y43', 'fz.admin');
  const operator = await login(await browser.newContext(), 'op.li', 'staff-pass-2026');
  const officer = await login(await browser.newContext(), 'ca.zhao', 'staff-pass-2026');

  const orderNo = await applyFor(supplier, { product: PAID_PRODUCT });

  // The reviewer opens a scan from its thumbnail and turns it.
  await operator.goto(`${server.base}/orders/${orderNo}`);
  const scan = operator.getByTestId('document-business_licence');
  await scan.locator('summary').click();
  await scan.getByLabel('90°').check();
  const turned = await scan.locator('img.large').evaluate((img) => getComputedStyle(img).transform);
  assert.notEqual(turned, 'none', 'the scan is turned');
  await operator.screenshot({ path: join(screenshotDir, 'review-viewer.png'), fullPage: true });

  await review(operator, 'initial', orderNo, '审核通过');
  assert.equal(await operator.getByTestId('status').textContent(), '待支付');

  // The cashier: amount, QR code, countdown; the sandbox "phone" pays.
  await supplier.goto(`${server.base}/orders/${orderNo}`);
  await supplier.getByTestId('pay').click();
  await supplier.waitForURL(new RegExp(`/orders/${orderNo}/pay`));
  await payAtSandboxCashier(supplier);
  await assertFits(browser, await supplier.context().storageState(), supplier.url(), 'cashier');
  await supplier.goto(`${server.base}/orders/${orderNo}`);
  assert.equal(await supplier.getByTestId('status').textContent(), '待复审');

  await review(officer, 'second', orderNo, '审核通过');
  assert.equal(await officer.getByTestId('status').textContent(), '制证中');

  // The key's CSR → the CA issues the SM2 signing and encryption certificates.
  await supplier.goto(`${server.base}/orders/${orderNo}`);
  await supplier.getByTestId('production-hint').waitFor();
  await supplier.getByText('高级：使用自备的其他CA锁').click();
  await supplier.getByLabel('证书请求').fill(sm2Csr);
  await supplier.getByRole('button', { name: '提交并签发证书' }).click();
  await supplier.getByTestId('notice').waitFor();
  assert.equal(await supplier.getByTestId('status').textContent(), '已发证');
  await supplier.getByTestId('issued').getByRole('link', { name: '加密证书' }).waitFor();
  await supplier.screenshot({ path: join(screenshotDir, 'order-issued.png'), fullPage: true });

  // The operator ships the key; the supplier confirms receipt.
  await operator.goto(`${server.base}/orders/${orderNo}`);
  await operator.getByLabel('快递公司').fill('顺丰速运');
  await operator.getByLabel('快递单号').fill('SF1234567890');
  await operator.getByRole('button', { name: '登记发货' }).click();
  await operator.getByTestId('notice').waitFor();
  assert.equal(await operator.getByTestId('status').textContent(), '配送中');

  await supplier.goto(`${server.base}/orders/${orderNo}`);
  assert.match(await supplier.getByTestId('delivery').textContent(), /顺丰速运 SF1234567890/);
  supplier.once('dialog', (dialog) => dialog.accept());
  await supplier.getByTestId('confirm-receipt').click();
  await supplier.getByTestId('notice').waitFor();
  assert.equal(await supplier.getByTestId('status').textContent(), '已完成');
  const timeline = await supplier.getByTestId('timeline').textContent();
  for (const step of ['提交审核', '初审通过', '确认支付', '复审通过', '确认已发证', '邮寄发货', '确认收货']) {
    assert.ok(timeline.includes(step), `${step} in the timeline`);
  }

  await assertFits(browser, await supplier.context().storageState(), `${server.base}/orders/${orderNo}`, 'order');
  await supplier.getByRole('link', { name: '我的证书' }).click();
  await assertFits(browser, await supplier.context().storageState(), supplier.url(), 'certificates');
  const states = await supplier.getByTestId('cert-state').allTextContents();
  assert.deepEqual(states, ['已生效', '已生效']);
  // The key is known by its CA锁ID (the signing certificate's key identifier), as binding shows it.
  assert.match(await supplier.getByTestId('key-id').textContent(), /^[0-9A-F]{40}$/);
  // A year's certificate is not yet renewable: the page says from when.
  await supplier.getByRole('link', { name: 'CA续费与延期' }).click();
  assert.match(await supplier.getByTestId('renewals').textContent(), /尚未到续费期，\d{4}-\d{2}-\d{2}.* 起可续费/);
  await supplier.getByRole('link', { name: '我的证书' }).click();
  await supplier.screenshot({ path: join(screenshotDir, 'new-certificate-issued.png'), fullPage: true });

  // 解锁 from 我的证书: the key is preselected; the holder confirms by SMS; the operator approves;
  // the 解锁授权码 is on the page for the supplier.
  await supplier.locator('[data-testid^="unlock-"]').first().click();
  await supplier.waitForURL(/\/ca\/unlock\?key=/);
  await supplier.getByLabel('持锁人姓名').fill('张三');
  await supplier.getByLabel('持锁人身份证号').fill('11010519491231002X');
  await supplier.getByLabel('持锁人手机号').fill('13800138000');
  await supplier.getByLabel('解锁原因').fill('PIN码输错次数过多被锁定');
  await supplier.getByRole('button', { name: '申请解锁' }).click();
  await supplier.getByTestId('notice').waitFor();
  await confirmBySms(supplier);
  await supplier.getByTestId('unlock-submit').click();
  await supplier.getByTestId('notice').waitFor();
  const unlockNo = (await supplier.getByTestId('unlocks').locator('a').first().textContent()).trim();
  await review(operator, 'initial', unlockNo, '审核通过');
  await supplier.goto(`${server.base}/ca/unlock`);
  assert.match(await supplier.getByTestId('unlock-code').textContent(), /^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){3}$/);
  await assertFits(browser, await supplier.context().storageState(), `${server.base}/ca/unlock`, 'unlock');
  // 消息 told the admin, unread until marked.
  await supplier.getByRole('link', { name: '消息' }).click();
  await supplier.getByTestId('message-unlock_approved').waitFor();
  await supplier.getByRole('button', { name: /全部标为已读/ }).click();
  assert.match(await supplier.getByTestId('notice').textContent(), /已将 \d+ 条消息标为已读/);
  await supplier.goto(`${server.base}/ca/unlock`);
  await supplier.screenshot({ path: join(screenshotDir, 'unlock-code.png'), fullPage: true });

  // 吊销 of a lost key: confirmed by SMS, revoked at once; 我的证书 says so.
  await supplier.getByRole('link', { name: '我的证书' }).click();
  await supplier.locator('[data-testid^="revoke-"]').first().click();
  await supplier.getByLabel('吊销原因').selectOption('keyCompromise');
  // Only the legal representative the certificate was issued under may confirm.
  await supplier.getByLabel('法定代表人姓名').fill('李四');
  await supplier.getByLabel('法定代表人身份证号').fill('440524188001010014');
  await supplier.getByLabel('法定代表人手机号').fill('13900139000');
  await supplier.getByRole('button', { name: '申请吊销' }).click();
  assert.match(await supplier.getByTestId('error').textContent(), /与申领该证书时登记的不一致/);
  await supplier.getByLabel('法定代表人姓名').fill('张三');
  await supplier.getByLabel('法定代表人身份证号').fill('11010519491231002X');
  await supplier.getByLabel('法定代表人手机号').fill('13800138000');
  await supplier.getByRole('button', { name: '申请吊销' }).click();
  await supplier.getByTestId('notice').waitFor();
  await confirmBySms(supplier);
  await supplier.getByTestId('revoke-submit').click();
  assert.match(await supplier.getByTestId('notice').textContent(), /证书已吊销/);
  await supplier.getByRole('link', { name: '我的证书' }).click();
  // Both certificates of the key (signing and encryption) are revoked together.
  assert.deepEqual(await supplier.getByTestId('cert-state').allTextContents(), ['已吊销', '已吊销']);

  // The 业务单 list finds it by number and status.
  await supplier.getByRole('link', { name: '业务单' }).click();
  await supplier.getByLabel('订单号').fill(orderNo);
  await supplier.getByLabel('状态').selectOption('completed');
  await supplier.getByRole('button', { name: '搜索' }).click();
  await supplier.getByTestId('orders').getByText(orderNo).waitFor();
});

test('a rejected application is edited and resubmitted', async () => {
  const supplier = await registerSupplier('厦门测试贸易有限公司', '91350200M000100225', 'xm.admin');
  const operator = await login(await browser.newContext(), 'op.li', 'staff-pass-2026');
  const orderNo = await applyFor(supplier, { product: PAID_PRODUCT });

  // Rejecting needs a reason.
  await operator.goto(`${server.base}/orders/${orderNo}`);
  await operator.getByRole('button', { name: '驳回' }).click();
  assert.match(await operator.getByTestId('error').textContent(), /驳回时请填写原因/);
  await review(operator, 'initial', orderNo, '驳回', '营业执照未加盖公章，请重新上传');
  assert.equal(await operator.getByTestId('status').textContent(), '审核未通过');

  await supplier.goto(`${server.base}/orders/${orderNo}`);
  assert.match(await supplier.getByTestId('rejection').textContent(), /营业执照未加盖公章/);
  await supplier.getByTestId('edit').click();
  assert.match(await supplier.getByTestId('rejection').textContent(), /营业执照未加盖公章/);
  await supplier.getByTestId('file-business_licence').setInputFiles({ name: 'stamped.png', mimeType: 'image/png', buffer: png(7) });
  await supplier.getByTestId('file-business_licence').locator('xpath=..').getByRole('button', { name: '上传' }).click();
  await supplier.getByTestId('uploaded-business_licence').getByText('stamped.png').waitFor();
  await supplier.getByRole('button', { name: '提交审核' }).click();
  await supplier.waitForURL(new RegExp(`/orders/${orderNo}$`));
  await supplier.getByText('申请已提交，等待平台初审').waitFor();
  assert.equal(await supplier.getByTestId('status').textContent(), '待初审');
  const timeline = await supplier.getByTestId('timeline').textContent();
  assert.ok(timeline.includes('初审驳回') && timeline.includes('修改后重新提交'), timeline);

  // Back in the operator's queue, and this time it passes.
  await review(operator, 'initial', orderNo, '审核通过');
  assert.equal(await operator.getByTestId('status').textContent(), '待支付');
});

/** The system admin adds an SM2 dual-certificate UKey product without 首张免费, so that a
 * first certificate still goes through the cashier. */
async function setUpCatalogue(page) {
  await page.goto(`${server.base}/admin/products`);
  await page.getByLabel('产品名称', { exact: true }).last().fill(PAID_PRODUCT);
  await page.getByLabel('每年价格（元）', { exact: true }).last().fill('399.00');
  await page.getByRole('button', { name: '创建产品' }).click();
  await page.getByText(`已创建产品“${PAID_PRODUCT}”`).waitFor();
}

test('单位认领: a credit code registered by someone else is claimed back with a licence and a sealed letter', async () => {
  // Someone registers the code first.
  const squatter = await registerSupplier('泉州抢注有限公司', '91350500M000100E0T', 'qz.squatter');
  await squatter.close();
  // The real organisation is told at registration where to go, and files its claim.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.base}/register`);
  await page.getByTestId('claim-link').click();
  await page.getByLabel('统一社会信用代码').fill('91350500M000100E0T');
  await page.getByLabel('单位名称').fill('泉州真实科技有限公司');
  await page.getByLabel('认领人姓名').fill('王五');
  await page.getByLabel('认领人手机号').fill('13700137000');
  await page.getByLabel('认领说明').fill('本单位从未在本平台注册，营业执照和认领函附后');
  await page.getByLabel('营业执照').setInputFiles({ name: 'licence.png', mimeType: 'image/png', buffer: png(11) });
  await page.getByLabel('单位认领函（加盖公章）').setInputFiles({ name: 'letter.png', mimeType: 'image/png', buffer: png(12) });
  await page.getByLabel('管理员用户名').fill('qz.real');
  await page.getByLabel('密码', { exact: true }).fill('claimant-pass-2026');
  await page.getByLabel('再次输入密码').fill('claimant-pass-2026');
  await assertFits(browser, null, `${server.base}/claim`, 'claim-form');
  await page.getByRole('button', { name: '提交认领申请' }).click();
  const claimNo = (await page.getByTestId('claim-no').textContent()).trim();
  assert.match(claimNo, /^RL\d{8}$/);
  const queryCode = (await page.getByTestId('query-code').textContent()).trim();
  await page.screenshot({ path: join(screenshotDir, 'claim-filed.png'), fullPage: true });

  // The operator compares the documents with the registration and approves.
  const operator = await login(await browser.newContext(), 'op.li', 'staff-pass-2026');
  await operator.getByRole('link', { name: '单位认领审核' }).click();
  await operator.getByTestId(`claim-${claimNo}`).click();
  await operator.getByTestId('document-1').locator('summary').click();
  await operator.getByRole('button', { name: '通过：交由认领人管理' }).click();
  assert.match(await operator.getByTestId('notice').textContent(), /已通过/);

  // The claimant follows the claim with its code, then logs in as the organisation's admin.
  await page.goto(`${server.base}/claim/status`);
  await page.getByLabel('查询码').fill(queryCode);
  await page.getByRole('button', { name: '查询' }).click();
  assert.equal(await page.getByTestId('status').textContent(), '已通过');
  await login(context, 'qz.real', 'claimant-pass-2026');
});

/** The SMS confirmation on the 解锁 and 吊销 pages, through the sandbox's box on the page. */
/** 法定代表人手机号实名核验 through the sandbox: the code appears in the page's sandbox box. */
async function passIdentityCheck(page) {
  await page.getByRole('button', { name: '发送验证码到法定代表人手机' }).click();
  const sms = page.getByTestId('sandbox-sms').last();
  await sms.waitFor();
  const code = (await sms.textContent()).match(/验证码\D*(\d{6})/)[1];
  await page.getByLabel('短信验证码').fill(code);
  await page.getByRole('button', { name: '验证', exact: true }).click();
  await page.getByTestId('identity-passed').waitFor();
}
