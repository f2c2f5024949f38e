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

test('an upload of a missing file rejects with status 0 and the errMsg', async () => {
  const { client } = setup();
  await client.login();
  const err = await rejection(client.upload('http://tmp/gone.jpg'));
  assert.equal(err.status, 0);
  assert.match(err.data.errMsg, /^uploadFile:fail/);
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
  assert.equal(missing.msg, "The requested resource wasn't found.");
  const update = await rejection(records.update('nope', { company_remark: 'x' }));
  assert.equal(update.status, 404);
  assert.equal(update.msg, "The requested resource wasn't found.");
  const first = await rejection(records.getFirstListItem(client.filter('company_id = {:id}', { id: 'none' })));
  assert.equal(first.status, 404);
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
      [400, 'Failed to create record.', { company_name: { code: 'x' } }]],
    ['<html>502 Bad Gateway</html>', 502, [502, '服务响应异常(HTTP 502)', {}]],
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
  const names = [...Object.keys(mod), ...Object.keys(client), ...Object.keys(client.collection('x'))];
  assert.ok(names.length > 15);
  for (const name of names) {
    assert.match(types, new RegExp('(function|class|readonly) ' + name + '\\b|^\\s+' + name + '[(<:]', 'm'), name);
  }
});
