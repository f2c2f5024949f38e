'use strict';
// requestSubscribe and subscribeTemplates under the fake wx, against a small backend of the two subscribe routes.
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadClient } = require('./load');
const { createFakeWx } = require('./fake-wx');
const { rejection, plain, BASE_URL } = require('./setup');

const TEMPLATES = { picture_removed: 'tmpl-pic', company_status: 'tmpl-company' };
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.' + Buffer.from(JSON.stringify({ id: 'u1', exp: 4102444800, type: 'auth' }))
  .toString('base64url') + '.sig';

/** GET/POST /pb/api/wechat/subscribe as the sidecar answers them (spec/openapi-wx.yaml), counting grants. */
function subscribeBackend() {
  const counts = { picture_removed: 0, company_status: 0 };
  const hits = [];
  const send = async (req) => {
    hits.push(req);
    const path = req.url.slice(BASE_URL.length);
    if (path === '/api/wechat/login') {
      return { status: 200, headers: {}, body: JSON.stringify({ code: 200, msg: '登录成功', token: TOKEN,
        data: { status: 'login_success', is_info_complete: false, user: {} } }) };
    }
    assert.equal(path, '/api/wechat/subscribe');
    assert.equal(req.headers.Authorization, 'Bearer ' + TOKEN);
    if (req.method === 'POST') {
      const body = JSON.parse(req.body.toString());
      const names = Object.fromEntries(Object.entries(TEMPLATES).map(([name, id]) => [id, name]));
      const unknown = [...body.accepted, ...body.rejected].find((id) => !(id in names));
      if (unknown) {
        return { status: 400, headers: {}, body: JSON.stringify({ code: 400, msg: '未配置的订阅消息模板: ' + unknown,
          data: { template_id: unknown } }) };
      }
      body.accepted.forEach((id) => { counts[names[id]] += 1; });
    }
    return { status: 200, headers: {}, body: JSON.stringify({ code: 200, msg: '获取成功',
      data: { templates: TEMPLATES, counts } }) };
  };
  return { send, hits };
}

async function setup(wxOptions = {}) {
  const backend = subscribeBackend();
  const wx = createFakeWx(Object.assign({ send: backend.send, codes: 'alice' }, wxOptions));
  const client = loadClient().client.createClient({ baseUrl: BASE_URL, wx });
  await client.login();
  return { backend, wx, client };
}

test('requestSubscribe learns the ids from GET, asks wx for them and reports what was accepted', async () => {
  const { backend, wx, client } = await setup({ subscribe: () => ({ 'tmpl-company': 'reject' }) });
  const result = await client.requestSubscribe(['picture_removed', 'company_status', 'not_configured']);
  assert.deepEqual(plain(result), { accepted: ['picture_removed'], rejected: ['company_status'],
    counts: { picture_removed: 1, company_status: 0 } });
  const asked = wx.calls.filter((call) => call.method === 'requestSubscribeMessage');
  assert.deepEqual(plain(asked.map((call) => call.tmplIds)), [['tmpl-pic', 'tmpl-company']]);
  const [get, post] = backend.hits.slice(1);
  assert.deepEqual([get.method, post.method], ['GET', 'POST']);
  assert.deepEqual(JSON.parse(post.body.toString()), { accepted: ['tmpl-pic'], rejected: ['tmpl-company'] });
});

test('with the ids known, wx is asked at once (inside the tap), before any request', async () => {
  const { backend, wx, client } = await setup();
  assert.deepEqual(plain(await client.subscribeTemplates()), { templates: TEMPLATES,
    counts: { picture_removed: 0, company_status: 0 } });
  const before = backend.hits.length;
  const pending = client.requestSubscribe('company_status');
  assert.equal(wx.calls.at(-1).method, 'requestSubscribeMessage', 'asked synchronously');
  assert.equal(backend.hits.length, before);
  assert.deepEqual(plain(await pending), { accepted: ['company_status'], rejected: [],
    counts: { picture_removed: 0, company_status: 1 } });
});

test("'ban' and 'filter' are not grants", async () => {
  const { client } = await setup({ subscribe: () => ({ 'tmpl-pic': 'ban', 'tmpl-company': 'filter' }) });
  const result = await client.requestSubscribe(['picture_removed', 'company_status']);
  assert.deepEqual(plain(result.accepted), []);
  assert.deepEqual(plain(result.rejected), ['picture_removed', 'company_status']);
});

test('a wx failure rejects with an ApiError of status 0 carrying errCode and errMsg, and reports nothing', async () => {
  const { backend, client } = await setup({ subscribeError: { errCode: 20004, errMsg: 'main switch is off' } });
  const err = await rejection(client.requestSubscribe(['picture_removed']));
  assert.equal(err.name, 'ApiError');
  assert.equal(err.status, 0);
  assert.equal(err.data.errCode, 20004);
  assert.match(err.data.errMsg, /^requestSubscribeMessage:fail/);
  assert.equal(backend.hits.filter((hit) => hit.method === 'POST' && hit.url.endsWith('/subscribe')).length, 0);
});

test('names none of which is configured ask wx nothing and resolve the counts', async () => {
  const { wx, client } = await setup();
  const result = await client.requestSubscribe(['nope']);
  assert.deepEqual(plain(result), { accepted: [], rejected: [], counts: { picture_removed: 0, company_status: 0 } });
  assert.equal(wx.calls.filter((call) => call.method === 'requestSubscribeMessage').length, 0);
});

test('the fake wx answers requestSubscribeMessage as the base library does', async () => {
  const wx = createFakeWx({ send: async () => ({ status: 200, headers: {}, body: '{}' }) });
  const answer = (tmplIds) => new Promise((resolve) => wx.requestSubscribeMessage({ tmplIds,
    success: (res) => resolve(['success', res]), fail: (res) => resolve(['fail', res]) }));
  assert.deepEqual(await answer(['a']), ['success', { errMsg: 'requestSubscribeMessage:ok', a: 'accept' }]);
  assert.deepEqual((await answer([]))[1].errCode, 10001);
  assert.deepEqual((await answer(['1', '2', '3', '4', '5', '6']))[1].errCode, 20003);
});
