'use strict';
/**
 * Every function of the client against the real stack (PocketBase, the sidecar, nginx, the WeChat dev
 * stub), run by tests/test_miniprogram.py, which starts the stack and seeds what a guest cannot make.
 * The fake wx here does real HTTP (node:http, inside the fake only); wx.login answers dev stub codes
 * (NAME.n: the same WeChat user, a new code each time). MINIPROGRAM_E2E holds the JSON the Python side
 * passes: base_url, name, manager, short_token, attachment, dict, png_path.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const { loadClient } = require('./load');
const { createFakeWx } = require('./fake-wx');
const { plain, rejection } = require('./setup');

const E2E = JSON.parse(process.env.MINIPROGRAM_E2E || '{}');
const { createClient, ApiError } = loadClient().client;

/** wx.request / wx.uploadFile's network: a real HTTP exchange (a chunked request's body read as it streams). */
function httpSend(req) {
  return new Promise((resolve, reject) => {
    const headers = Object.assign({}, req.headers, { 'content-length': req.body.length, 'user-agent': 'wechatdevtools e2e' });
    const request = http.request(req.url, { method: req.method, headers }, (res) => {
      if (req.chunked) {
        resolve({ status: res.statusCode, headers: res.headers, stream: res, cancel: () => request.destroy() });
        return;
      }
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', (err) => reject(new Error(err.code || err.message)));
    request.end(req.body);
  });
}

function device(name, options = {}) {
  const wx = createFakeWx({ send: httpSend, codes: name, readFile: (p) => fs.readFileSync(p) });
  const client = createClient(Object.assign({ baseUrl: E2E.base_url, wx }, options));
  return { wx, client, again: () => createClient({ baseUrl: E2E.base_url, wx }) };
}

function expiry(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp * 1000;
}

const phone = () => '139' + String(Math.floor(Math.random() * 1e8)).padStart(8, '0');

test('login registers, then logs in; the token is stored and restored by the next createClient', async () => {
  const { wx, client, again } = device(E2E.name);
  const first = await client.login();
  assert.equal(first.status, 'register_success');
  assert.equal(first.is_info_complete, false);
  assert.equal(first.user.openid, 'dev-openid-' + E2E.name);
  assert.equal(client.user.users_id, first.user.users_id);
  assert.equal((await client.login()).status, 'login_success');
  assert.equal(wx.getStorageSync('bai_auth_token'), client.token);

  const restored = again();
  assert.equal(restored.token, client.token);
  assert.equal((await restored.profile({})).users_id, first.user.users_id);
  assert.equal(wx.logins, 2, 'the restored token served without a login');
});

test('profile and bindPhone resolve the UserInfo; 注册用户 once name and phone are set', async () => {
  const { client } = device(E2E.name + 'p');
  await client.login();
  const named = await client.profile({ users_name: '张三', users_tag: 'e2e' });
  assert.equal(named.users_name, '张三');
  assert.equal(named.users_type, '游客');
  const number = phone();
  const bound = await client.bindPhone('phone-' + number);
  assert.equal(bound.users_phone, number);
  assert.equal(bound.users_type, '注册用户');
  assert.equal(client.user.users_phone, number);
  const refused = await rejection(client.bindPhone('not-a-phone-code'));
  assert.ok(refused instanceof ApiError);
  assert.equal(refused.status, 400);
  assert.equal(refused.code, 400);
  assert.ok(refused.msg);
});

test('usersCount is a number and never logs in', async () => {
  const { wx, client } = device(E2E.name + 'c');
  const total = await client.usersCount();
  assert.equal(typeof total, 'number');
  assert.ok(total >= 1);
  assert.equal(wx.logins, 0);
  assert.ok(wx.calls.every((c) => !c.headers.Authorization));
});

test('refresh renews the stored token', async () => {
  const { wx, client } = device(E2E.name + 'r');
  await client.login();
  const before = expiry(client.token);
  const token = await client.refresh();
  assert.equal(token, client.token);
  assert.equal(wx.getStorageSync('bai_auth_token'), token);
  assert.ok(expiry(token) >= before);
  assert.equal(wx.calls.at(-1).url, E2E.base_url + '/api/system/refresh-token');
  assert.equal(wx.logins, 1);
});

test('a token within a day of its expiry is renewed before use (PocketBase-minted, 1 h)', async () => {
  const { wx, again } = device(E2E.short_name);
  wx.setStorageSync('bai_auth_token', E2E.short_token);
  const client = again();
  const user = await client.profile({});
  assert.equal(user.openid, 'dev-openid-' + E2E.short_name);
  assert.notEqual(client.token, E2E.short_token);
  assert.ok(expiry(client.token) - Date.now() > 6 * 24 * 3600 * 1000, 'a full-length token');
  assert.equal(wx.logins, 0, 'renewed with the bearer, not a login');
});

test('an expired token is never sent: a fresh code logs in first', async () => {
  const { wx, client: first, again } = device(E2E.name + 'x');
  await first.login();
  const [head, , sig] = first.token.split('.');
  const claims = JSON.parse(Buffer.from(first.token.split('.')[1], 'base64url').toString());
  const expired = [head, Buffer.from(JSON.stringify(Object.assign(claims, { exp: 1000 }))).toString('base64url'), sig].join('.');
  wx.setStorageSync('bai_auth_token', expired);
  const client = again();
  await client.profile({});
  assert.equal(wx.logins, 2);
  assert.ok(wx.calls.every((c) => c.headers.Authorization !== 'Bearer ' + expired));
});

test('after a logout on another device: a burst of 401s shares one silent re-login, each call retried once', async () => {
  const a = device(E2E.name + 'd');
  const b = device(E2E.name + 'd');
  await a.client.login();
  await b.client.login();
  await a.client.logout();
  assert.equal(a.client.token, '');
  assert.equal(a.wx.getStorageSync('bai_auth_token'), '');
  const out = await rejection(a.client.profile({}));
  assert.equal(out.status, 401);
  assert.equal(out.msg, '已退出登录,请重新登录');
  assert.equal(a.wx.logins, 1, 'the device that logged out does not log in again by itself');

  const users = await Promise.all([1, 2, 3, 4].map((n) => b.client.profile({ users_tag: 'burst' + n })));
  assert.equal(new Set(users.map((u) => u.users_id)).size, 1);
  assert.equal(b.wx.logins, 2, 'one wx.login for the login, one for the shared re-login');
  const relogins = b.wx.calls.filter((c) => c.url.endsWith('/api/system/refresh-token'));
  assert.equal(relogins.length, 1);
  assert.match(String(relogins[0].body), /"users_wx_code":/);
});

test('closeAccount deletes the user: no re-login on this device, one on another is refused with 404, a login registers anew', async () => {
  const { wx, client, again } = device(E2E.name + 'z');
  const other = device(E2E.name + 'z');
  await client.login();
  await other.client.login();
  assert.equal((await client.closeAccount()).status, 'close_success');
  assert.equal(client.token, '');
  assert.equal(client.user, null);
  for (const signedOut of [client, again()]) {
    const out = await rejection(signedOut.profile({}));
    assert.equal(out.status, 401);
    assert.equal(out.msg, '已退出登录,请重新登录');
  }
  assert.equal(wx.logins, 1, 'no wx.login after closeAccount');
  const gone = await rejection(other.client.profile({}));
  assert.equal(gone.status, 404);
  assert.equal(gone.msg, '当前用户不存在,请先登录');
  assert.equal((await client.login()).status, 'register_success');
  assert.equal(wx.logins, 2);
});

test('companies: create, the filter with hostile values, getList, getFirstListItem; view and update need an admin', async () => {
  const { client } = device(E2E.name + 'k');
  const companies = client.collection('tbl_company');
  const values = ["O'Brien", 'say "hi"', 'back\\slash', 'trailing\\', "\\'", "it\\'s' || id != '", '{:name}',
    '&& 1 = 1 ||', '(paren)', 'line\nbreak', '百分%_比', ' spaced '];
  const made = [];
  for (const value of values) {
    made.push(await companies.create({ company_name: value + E2E.name, company_type: '渠道商' }));
  }
  for (const [i, value] of values.entries()) {
    const found = await companies.getFirstListItem(client.filter('company_name = {:name}', { name: value + E2E.name }));
    assert.equal(found.company_id, made[i].company_id, JSON.stringify(value));
    const grouped = await companies.getList(1, 5, {
      filter: client.filter('(company_name = {:name} && (company_id = {:id}))', { name: value + E2E.name, id: made[i].company_id }),
    });
    assert.equal(grouped.totalItems, 1, 'in parentheses: ' + JSON.stringify(value));
  }
  // A value holding the next placeholder must not let that one's value out of its quotes.
  const nested = await companies.getList(1, 5, { filter: client.filter('company_name = {:a} || company_name = {:b}',
    { a: '{:b}', b: "') || id != ('" }) });
  assert.equal(nested.totalItems, 0);
  const list = await companies.getList(1, 2, { filter: client.filter('company_name ~ {:n}', { n: E2E.name }), sort: '-created' });
  assert.deepEqual(Object.keys(list).sort(), ['items', 'page', 'perPage', 'totalItems', 'totalPages']);
  assert.equal(list.items.length, 2);
  assert.equal(list.totalItems, values.length);
  assert.equal(list.items[0].company_id, made.at(-1).company_id);

  const hidden = await rejection(companies.getOne(made[0].id));
  assert.equal(hidden.status, 404);
  const refused = await rejection(companies.update(made[0].id, { company_level: 'X' }));
  assert.equal(refused.status, 404);
  assert.equal(refused.msg, '记录不存在');
  assert.equal(refused.data.message, "The requested resource wasn't found.");
  const none = await rejection(companies.getFirstListItem(client.filter('company_id = {:id}', { id: 'CMP-none' })));
  assert.equal(none.status, 404);

  const admin = device(E2E.manager).client;
  await admin.login();
  const adminCompanies = admin.collection('tbl_company');
  assert.equal((await adminCompanies.getOne(made[0].id)).company_name, values[0] + E2E.name);
  const updated = await adminCompanies.update(made[0].id, { company_level: 'S' });
  assert.equal(updated.company_level, 'S');
  assert.equal(updated.id, made[0].id);
  const invalid = await rejection(adminCompanies.update(made[0].id, { company_name: 'x'.repeat(201) }));
  assert.equal(invalid.status, 400);
  assert.equal(invalid.msg, '提交的内容有误');
  assert.ok(invalid.data.data.company_name, JSON.stringify(plain(invalid.data)));
  const badFilter = await rejection(companies.getList(1, 5, { filter: 'company_name ~' }));
  assert.deepEqual([badFilter.status, badFilter.msg], [400, '筛选条件有误']);
  assert.ok(badFilter.data.message);
});

test('attachments by exact id, documents by dictionary and enum: answers as PocketBase gives them', async () => {
  const { client, wx } = device(E2E.name + 'a');
  const attachments = client.collection('tbl_attachments');
  const attachment = await attachments.getFirstListItem(
    client.filter('attachments_id = {:id}', { id: E2E.attachment.attachments_id }));
  assert.equal(attachment.attachments_md5, E2E.attachment.attachments_md5);
  const listed = await rejection(attachments.getList(1, 30));
  assert.equal(listed.status, 400, 'attachments cannot be enumerated');
  assert.equal(listed.msg, '筛选条件有误');
  assert.match(listed.data.message, /attachments_id/);
  assert.throws(() => client.collection('company'), { name: 'TypeError', message: /tbl_company, tbl_attachments, tbl_document/ });

  const documents = await client.collection('tbl_document').getList(1, 20, {
    filter: client.filter('document_type ~ {:dict} && document_type ~ {:enum}', { dict: E2E.dict, enum: '@UT1' }),
    sort: '-document_create',
  });
  assert.deepEqual(documents.items.map((d) => d.document_title), ['new', 'old']);
  assert.equal(wx.logins, 0, 'public lists never log in');
});

test('a network failure and a timeout are ApiErrors of status 0', async () => {
  const down = device(E2E.name + 'n', { baseUrl: E2E.closed_url }).client;
  const refused = await rejection(down.usersCount());
  assert.ok(refused instanceof ApiError);
  assert.equal(refused.status, 0);
  assert.match(refused.data.errMsg, /^request:fail/);

  const slow = device('slow-3.' + E2E.name + 's', { timeout: 500 }).client;
  const late = await rejection(slow.login());
  assert.equal(late.status, 0);
  assert.equal(late.data.errMsg, 'request:fail timeout');
});

test('upload sends a picture with wx.uploadFile; its id becomes the avatar', async () => {
  const { client } = device(E2E.name + 'u');
  await client.login();
  const attachment = await client.upload(E2E.png_path);
  assert.match(attachment.attachments_id, /^ATT-/);
  assert.equal(attachment.attachments_filetype, 'image/png');
  assert.equal(attachment.attachments_status, '审核中'); // until WeChat's content check pushes its verdict
  const user = await client.profile({ users_picture: attachment.attachments_id });
  assert.equal(user.users_picture_url, attachment.url);
  const refused = await rejection(client.upload(E2E.text_path));
  assert.equal(refused.status, 400);
  assert.equal(refused.data.field, 'file');
  const missing = await rejection(client.upload(E2E.png_path + '.gone'));
  assert.deepEqual([missing.status, missing.msg], [0, '文件不存在,请重新选择']);
});

test('myUploads lists the user\'s own uploads, newest first, with paging; another user sees none of them', async () => {
  const { client } = device(E2E.name + 'm');
  await client.login();
  const first = await client.upload(E2E.png_path);
  const second = await client.upload(E2E.png_path);
  const page = await client.myUploads({ perPage: 1 });
  assert.deepEqual([page.totalItems, page.totalPages, page.perPage], [2, 2, 1]);
  assert.equal(page.items[0].attachments_id, second.attachments_id);
  const oldest = await client.myUploads({ sort: 'created' });
  assert.deepEqual(oldest.items.map((a) => a.attachments_id), [first.attachments_id, second.attachments_id]);
  assert.ok(oldest.items.every((a) => a.attachments_owner === 'dev-openid-' + E2E.name + 'm'));
  const other = device(E2E.name + 'o').client;
  await other.login();
  assert.equal((await other.myUploads()).totalItems, 0);
});

/** Resolves once predicate() holds (polled; rejects after the deadline). */
async function until(predicate, what, deadline = 20000) {
  const end = Date.now() + deadline;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Subscribes to tbl_attachments/*, uploads, and checks the verdict event the stub's push brings. */
async function verdictByRealtime(marker, status) {
  // The stub's verdict follows the marker in the uploader's openid (ops/wechat_stub/security.py).
  const { client } = device(E2E.name + 'rt' + marker);
  await client.login();
  const events = [];
  const unsubscribe = await client.subscribe('tbl_attachments', '*', (e) => events.push(e));
  const attachment = await client.upload(E2E.png_path);
  assert.equal(attachment.attachments_status, '审核中');
  const mine = () => events.filter((e) => e.record.attachments_id === attachment.attachments_id);
  await until(() => mine().some((e) => e.record.attachments_status !== '审核中'), 'the verdict');
  const verdict = mine().find((e) => e.record.attachments_status !== '审核中');
  assert.equal(verdict.action, 'update');
  assert.equal(verdict.record.attachments_status, status);
  assert.equal(verdict.record.collectionName, 'tbl_attachments');
  assert.equal('attachments_suggest' in verdict.record, false, 'hidden fields stay hidden');
  await unsubscribe();
}

test('an upload\'s verdict 有效 arrives by realtime, pushed by the stub through the stack', () => verdictByRealtime('', '有效'));

test('an upload\'s verdict 违规 arrives by realtime, pushed by the stub through the stack', () => verdictByRealtime('risky', '违规'));
