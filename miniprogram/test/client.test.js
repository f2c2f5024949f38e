'use strict';
// The calls, the error class and the filter, under the fake wx and the fake backend.
const test = require('node:test');
const assert = require('node:assert/strict');
const vm = require('node:vm');
const { setup, rejection, plain, BASE_URL } = require('./setup');
const { loadClient } = require('./load');
const { createFakeWx } = require('./fake-wx');

test('the module runs where there is no fetch, AbortController, XMLHttpRequest, require or Buffer', () => {
  const { context } = loadClient();
  for (const name of ['fetch', 'AbortController', 'XMLHttpRequest', 'EventSource', 'require', 'process', 'Buffer']) {
    assert.equal(vm.runInContext('typeof ' + name, context), 'undefined', name);
  }
});

test('createClient uses the global wx when none is passed, and needs a baseUrl', async () => {
  const wx = createFakeWx({ send: async () => ({ status: 200, headers: {}, body: '{"code":200,"msg":"查询成功","data":{"total_users":"7"}}' }) });
  const { client: mod } = loadClient({ wx });
  assert.equal(await mod.createClient({ baseUrl: BASE_URL + '/' }).usersCount(), 7);
  assert.equal(wx.calls[0].url, BASE_URL + '/api/system/users-count');
  assert.throws(() => mod.createClient({ wx }), { name: 'TypeError', message: /baseUrl/ });
  assert.throws(() => loadClient().client.createClient({ baseUrl: BASE_URL }), { name: 'TypeError', message: /wx/ });
});

test('createClient refuses a baseUrl ending in /api (every call would go to /api/api/...), naming the expected form', () => {
  const wx = createFakeWx({ send: async () => ({ status: 200, headers: {}, body: '{}' }) });
  const { client: mod } = loadClient();
  for (const baseUrl of ['http://host/pb/api', 'https://host/pb/api/', 'https://host/pb/api//', 'https://host/api', 'https://host/pb/API']) {
    assert.throws(() => mod.createClient({ baseUrl, wx }), (err) => {
      assert.equal(err.name, 'TypeError');
      assert.match(err.message, /https:\/\/host\/pb/, 'names the expected form');
      assert.ok(err.message.includes(baseUrl), 'quotes what it got');
      return true;
    }, baseUrl);
  }
  assert.equal(wx.calls.length, 0);
  for (const baseUrl of ['https://host/pb', 'https://host/pb/', 'https://host/apiary', 'https://api.host/pb']) {
    assert.doesNotThrow(() => mod.createClient({ baseUrl, wx }), baseUrl);
  }
});

test('login sends the wx.login code and resolves {status, is_info_complete, user}', async () => {
  const { client, backend } = setup({ codes: 'bob' });
  const data = await client.login();
  assert.deepEqual(Object.keys(data).sort(), ['is_info_complete', 'status', 'user']);
  assert.equal(data.user.openid, 'dev-openid-bob');
  assert.deepEqual(JSON.parse(backend.hits[0].body), { users_wx_code: 'bob.1' });
  assert.equal((await client.login()).status, 'login_success');
});

test('profile and bindPhone resolve the UserInfo and keep it as client.user', async () => {
  const { client, backend } = setup();
  await client.login();
  const user = await client.bindPhone('phone-13800138000');
  assert.equal(user.users_phone, '13800138000');
  assert.deepEqual(JSON.parse(backend.hits.at(-1).body), { users_phone_code: 'phone-13800138000' });
  assert.equal(client.user, user);
  assert.equal((await client.profile({ users_name: '李四' })).users_name, '李四');
});

test('upload sends the file with wx.uploadFile in the part "file" and resolves the attachment', async () => {
  const { client, wx, backend } = setup({ files: { 'http://tmp/avatar.png': Buffer.from('png-bytes') } });
  await client.login();
  backend.users.get('alice').key += 1; // the upload's 401 is retried after a re-login like any call
  const attachment = await client.upload('http://tmp/avatar.png');
  assert.equal(attachment.attachments_id, 'ATT-1');
  assert.equal(attachment.attachments_filename, 'avatar.png');
  assert.equal(attachment.attachments_size, 9);
  const sent = wx.calls.filter((c) => c.file);
  assert.equal(sent.length, 2);
  assert.equal(sent[1].url, BASE_URL + '/api/wechat/upload');
  assert.equal(sent[1].headers.Authorization, 'Bearer ' + client.token);
  assert.match(sent[1].headers['content-type'], /^multipart\/form-data; boundary=/);
});

test('an upload of a missing temp file says the file is missing, not the network', async () => {
  const { client } = setup();
  await client.login();
  const err = await rejection(client.upload('http://tmp/gone.jpg'));
  assert.equal(err.status, 0);
  assert.equal(err.msg, '文件不存在,请重新选择');
  assert.match(err.data.errMsg, /^uploadFile:fail file not found/);
});

test('wx\'s fail messages: a missing file, a timeout, anything else is the network', async () => {
  const { client, backend } = setup({ files: { 'a.jpg': Buffer.from('x') } });
  await client.login();
  const cases = [['file not found', '文件不存在,请重新选择'], ['no such file or directory', '文件不存在,请重新选择'],
    ['createUploadTask:fail file not exist', '文件不存在,请重新选择'], ['net::ERR_CONNECTION_RESET', '网络请求失败,请检查网络'],
    ['ETIMEDOUT timed out', '请求超时,请稍后再试']];
  for (const [reason, msg] of cases) {
    backend.queue('POST /pb/api/wechat/upload', new Error(reason));
    const err = await rejection(client.upload('a.jpg'));
    assert.deepEqual(plain([err.status, err.msg, err.data.errMsg]), [0, msg, 'uploadFile:fail ' + reason], reason);
  }
});

test('an upload refused with a non-JSON body rejects with its status', async () => {
  const { client, backend } = setup({ files: { 'a.jpg': Buffer.from('x') } });
  await client.login();
  backend.queue('POST /pb/api/wechat/upload', { status: 413, body: '<html>413 Request Entity Too Large</html>' });
  const err = await rejection(client.upload('a.jpg'));
  assert.equal(err.status, 413);
  assert.equal(err.code, 413);
  assert.deepEqual(plain(err.data), {});
});

test('collection: create, getList with filter and sort, getFirstListItem, getOne, update', async () => {
  const { client, backend } = setup();
  const records = client.collection('tbl_company');
  const created = await records.create({ company_name: "O'Brien \\ 公司" });
  assert.equal(created.company_name, "O'Brien \\ 公司");

  const filter = client.filter('company_id = {:id}', { id: created.company_id });
  const list = await records.getList(1, 5, { filter, sort: '-created' });
  assert.equal(list.totalItems, 1);
  const sentUrl = new URL(backend.hits.at(-1).url);
  assert.equal(sentUrl.searchParams.get('filter'), filter);
  assert.equal(sentUrl.searchParams.get('sort'), '-created');
  assert.equal(sentUrl.searchParams.get('perPage'), '5');

  assert.equal((await records.getFirstListItem(filter)).id, created.id);
  assert.equal((await records.getOne(created.id)).company_id, created.company_id);
  const updated = await records.update(created.id, { company_remark: 'r' });
  assert.equal(updated.company_remark, 'r');
  assert.equal(backend.hits.at(-1).key, 'POST /pb/api/batch', 'wx.request has no PATCH: the update is a batch');
});

test('collection errors reject with PocketBase status and message; an update of a missing record is its 404', async () => {
  const { client } = setup();
  const records = client.collection('tbl_company');
  const missing = await rejection(records.getOne('nope'));
  assert.equal(missing.status, 404);
  assert.equal(missing.code, 404);
  assert.equal(missing.msg, '记录不存在');
  assert.deepEqual(plain(missing.data), { status: 404, message: "The requested resource wasn't found.", data: {} });
  const update = await rejection(records.update('nope', { company_remark: 'x' }));
  assert.equal(update.status, 404);
  assert.equal(update.msg, '记录不存在');
  const first = await rejection(records.getFirstListItem(client.filter('company_id = {:id}', { id: 'none' })));
  assert.equal(first.status, 404);
  assert.equal(first.msg, '记录不存在');
  assert.equal(first.data.message, "The requested resource wasn't found.");
});

test('a network failure and a timeout reject with an ApiError of status 0', async () => {
  const { client, backend, mod } = setup({ timeout: 50 });
  backend.queue('POST /pb/api/system/users-count', new Error('net::ERR_NAME_NOT_RESOLVED'));
  const down = await rejection(client.usersCount());
  assert.ok(down instanceof mod.ApiError);
  assert.equal(down.status, 0);
  assert.equal(down.code, 0);
  assert.equal(down.msg, '网络请求失败,请检查网络');
  assert.match(down.data.errMsg, /^request:fail net::ERR_NAME_NOT_RESOLVED/);

  backend.hold(); // never answers
  const slow = await rejection(client.usersCount());
  assert.equal(slow.status, 0);
  assert.equal(slow.msg, '请求超时,请稍后再试');
  assert.equal(slow.data.errMsg, 'request:fail timeout');
});

test('ApiError carries our envelope, PocketBase\'s shape, or the status of anything else', async () => {
  const { client, backend, mod, context } = setup();
  const cases = [
    [{ code: 429, msg: '请求过于频繁,请稍后再试', data: {} }, 429, [429, '请求过于频繁,请稍后再试', {}]],
    [{ status: 400, message: 'Failed to create record.', data: { company_name: { code: 'x' } } }, 400,
      [400, '提交的内容有误', { status: 400, message: 'Failed to create record.', data: { company_name: { code: 'x' } } }]],
    ['<html>502 Bad Gateway</html>', 502, [502, '服务暂不可用,请稍后再试', {}]],
    ['<html>418</html>', 418, [418, '服务响应异常(HTTP 418)', {}]],
    ['not json', 200, [200, '服务响应异常(HTTP 200)', {}]],
  ];
  for (const [body, status, [code, msg, data]] of cases) {
    backend.queue('POST /pb/api/system/users-count', { status, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const err = await rejection(client.usersCount());
    assert.ok(err instanceof mod.ApiError);
    assert.ok(err instanceof vm.runInContext('Error', context));
    assert.equal(err.name, 'ApiError');
    assert.deepEqual(plain([err.status, err.code, err.msg, err.data]), [status, code, msg, data]);
    assert.equal(err.message, msg);
  }
});

test('filter quotes and escapes values as PocketBase reads them; numbers, booleans, null bare', () => {
  const { client: mod } = loadClient();
  const f = mod.filter;
  assert.equal(f('a = {:v}', { v: 'plain' }), "a = 'plain'");
  assert.equal(f('a = {:v}', { v: "it's" }), "a = 'it\\'s'");
  assert.equal(f('a = {:v}', { v: 'back\\' }), "a = 'back\\\\'");
  assert.equal(f('a = {:v}', { v: "\\'" }), "a = '\\\\\\''");
  assert.equal(f('a = {:v}', { v: 'say "hi"' }), "a = 'say \"hi\"'");
  assert.equal(f('a = {:v} || b = {:v}', { v: 'x' }), "a = 'x' || b = 'x'");
  assert.equal(f('n = {:n} && b = {:b} && z = {:z}', { n: 3.5, b: false, z: null }), 'n = 3.5 && b = false && z = null');
  assert.equal(f('d > {:d}', { d: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) }), "d > '2026-01-02 03:04:05.000Z'");
  assert.equal(f('j = {:j}', { j: { k: "v'" } }), "j = '{\"k\":\"v\\'\"}'");
  assert.equal(f('a = {:missing}', {}), 'a = {:missing}');
  // A value holding another placeholder stays a value (the SDK would substitute into it and break out).
  assert.equal(f('a = {:a} && b = {:b}', { a: '{:b}', b: "') || id != ('" }),
    "a = '{:b}' && b = '\\') || id != (\\''");
  assert.equal(f('a = 1'), 'a = 1');
  assert.equal(setup().client.filter('x = {:v}', { v: "'" }), "x = '\\''");
});

test('index.d.ts types every export, every client function and collection method', () => {
  const types = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', 'index.d.ts'), 'utf8');
  const { client: mod } = loadClient();
  const { client } = setup();
  const names = [...Object.keys(mod), ...Object.keys(client), ...Object.keys(client.collection('tbl_company'))];
  assert.ok(names.length > 15);
  for (const name of names) {
    assert.match(types, new RegExp('(function|class|readonly) ' + name + '\\b|^\\s+' + name + '[(<:]', 'm'), name);
  }
});

test('index.js exports exactly the public API, its parts those of lib/ (one ApiError for every module)', () => {
  const loaded = loadClient();
  assert.deepEqual(Object.keys(loaded.client), ['createClient', 'ApiError', 'filter', 'createEventStreamParser', 'inviterPromoCode']);
  assert.equal(loaded.client.ApiError, loaded.require('lib/errors.js').ApiError);
  assert.equal(loaded.client.filter, loaded.require('lib/filter.js').filter);
  assert.equal(loaded.client.createEventStreamParser, loaded.require('lib/eventstream.js').createEventStreamParser);
  assert.equal(loaded.client.inviterPromoCode, loaded.require('lib/share.js').inviterPromoCode);
  const { client } = setup();
  assert.deepEqual(Object.keys(client).sort(), ['bindPhone', 'closeAccount', 'collection', 'filter', 'inviterPromoCode',
    'login', 'logout', 'myUploads', 'profile', 'refresh', 'requestSubscribe', 'shareCode', 'subscribe',
    'subscribeTemplates', 'token', 'unsubscribe', 'upload', 'user', 'usersCount']);
});

// PocketBase's own errors by status and kind: [call, status, PocketBase's body, msg].
const PB_ERRORS = [
  ['list', 400, { status: 400, message: 'Something went wrong while processing your request.', data: {} }, '筛选条件有误'],
  ['list', 400, { status: 400, message: 'Only the filter attachments_id="<id>" is allowed for this collection.', data: {} }, '筛选条件有误'],
  ['create', 400, { status: 400, message: 'Failed to create record.', data: { company_name: { code: 'validation_max_text_constraint', message: 'Must be less than 200 character(s).' } } }, '提交的内容有误'],
  ['list', 401, { status: 401, message: 'The request requires valid record authorization token.', data: {} }, '登录已失效,请重新登录'],
  ['create', 403, { status: 403, message: 'Only superusers can perform this action.', data: {} }, '无权访问'],
  ['list', 404, { status: 404, message: "The requested resource wasn't found.", data: {} }, '记录不存在'],
  ['create', 413, { status: 413, message: 'Request entity too large.', data: {} }, '文件过大'],
  ['list', 429, { status: 429, message: 'Too Many Requests.', data: {} }, '请求过于频繁,请稍后再试'],
  ['list', 500, { status: 500, message: 'Something went wrong while processing your request.', data: {} }, '服务暂不可用,请稍后再试'],
  ['list', 503, { status: 503, message: 'Service Unavailable.', data: {} }, '服务暂不可用,请稍后再试'],
  ['list', 418, { status: 418, message: "I'm a teapot.", data: {} }, '请求失败(HTTP 418)'],
];

for (const [call, status, body, msg] of PB_ERRORS) {
  test(`PocketBase's ${status} to a ${call} (${body.message}) is "${msg}", its own words kept in data`, async () => {
    const { client, backend } = setup();
    const records = client.collection('tbl_company');
    backend.queue(call === 'list' ? 'GET /pb/api/collections/tbl_company/records' : 'POST /pb/api/collections/tbl_company/records',
      { status, body: JSON.stringify(body) });
    const err = await rejection(call === 'list' ? records.getList(1, 5, { filter: 'x ~' }) : records.create({ company_name: 'x' }));
    assert.deepEqual(plain([err.status, err.code, err.msg, err.data]), [status, status, msg, body]);
    assert.match(err.msg, /[\u4e00-\u9fff]/, 'Chinese');
  });
}

test('our routes\' envelope messages stay as they are', async () => {
  const { client, backend } = setup();
  backend.queue('POST /pb/api/system/users-count', { status: 429, body: JSON.stringify({ code: 429, msg: '操作太快了', data: { retry: 3 } }) });
  const err = await rejection(client.usersCount());
  assert.deepEqual(plain([err.status, err.msg, err.data]), [429, '操作太快了', { retry: 3 }]);
});

test('collection(name) throws at once for a name the client does not know, naming the ones it knows', () => {
  const { client, wx } = setup();
  for (const name of ['company', 'tbl_Company', '', undefined, 'sys_counters', 'tbl_login_log']) {
    assert.throws(() => client.collection(name), (err) => {
      assert.equal(err.name, 'TypeError');
      for (const known of ['tbl_company', 'tbl_attachments', 'tbl_document']) assert.ok(err.message.includes(known), known);
      return true;
    }, String(name));
  }
  assert.equal(wx.calls.length, 0);
  for (const name of ['tbl_company', 'tbl_attachments', 'tbl_document', 'tbl_auth_users', 'view_user_info']) {
    assert.doesNotThrow(() => client.collection(name), name);
  }
});

test('the collections the client knows are collections of vocabulary.yaml (the one source of their names)', () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const vocabulary = fs.readFileSync(path.join(__dirname, '..', '..', 'vocabulary.yaml'), 'utf8');
  const block = vocabulary.split(/^collections:\n/m)[1].split(/^\S/m)[0];
  const declared = [...block.matchAll(/^ {2}[A-Z_]+: (\w+)$/gm)].map((m) => m[1]);
  assert.ok(declared.includes('tbl_company'));
  const source = fs.readFileSync(path.join(__dirname, '..', 'lib', 'records.js'), 'utf8');
  const known = JSON.parse(source.match(/var COLLECTIONS = (\[[^\]]*\]);/)[1].replace(/'/g, '"'));
  assert.ok(known.length >= 3);
  for (const name of known) assert.ok(declared.includes(name), name);
});

test('myUploads lists the caller\'s own uploads with paging and sort (newest first by default)', async () => {
  const { client, backend, wx } = setup({ files: { 'a.png': Buffer.from('a'), 'b.png': Buffer.from('bb'), 'c.png': Buffer.from('ccc') } });
  await client.login();
  const mine = [];
  for (const file of ['a.png', 'b.png', 'c.png']) mine.push(await client.upload(file));
  const mallory = loadClient().client.createClient({ baseUrl: BASE_URL, wx: createFakeWx({ send: backend.send, codes: 'mallory' }) });
  await mallory.login();
  assert.equal((await mallory.myUploads()).totalItems, 0, 'another user sees none of them');
  const restored = loadClient().client.createClient({ baseUrl: BASE_URL, wx });
  assert.equal((await restored.myUploads()).totalItems, 3, 'a restored token lists them (no user known yet)');
  assert.equal(wx.logins, 1);

  const first = await client.myUploads({ perPage: 2 });
  assert.deepEqual(first.items.map((a) => a.attachments_id), [mine[2].attachments_id, mine[1].attachments_id]);
  assert.deepEqual([first.page, first.perPage, first.totalItems, first.totalPages], [1, 2, 3, 2]);
  const sent = new URL(backend.hits.at(-1).url);
  assert.equal(sent.pathname, '/pb/api/collections/tbl_attachments/records');
  assert.deepEqual(Object.fromEntries(sent.searchParams), { page: '1', perPage: '2', sort: '-created' });
  assert.equal(backend.hits.at(-1).auth, 'Bearer ' + client.token);
  const oldest = await client.myUploads({ page: 2, perPage: 2, sort: 'created' });
  assert.deepEqual(oldest.items.map((a) => a.attachments_id), [mine[2].attachments_id]);
  const bad = await rejection(client.myUploads({ sort: 'nope' }));
  assert.deepEqual(plain([bad.status, bad.msg]), [400, '筛选条件有误']);
});
