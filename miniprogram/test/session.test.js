'use strict';
// The session rules of issue #18: bearer, storage, silent re-login on 401 (shared), renewal near expiry.
const test = require('node:test');
const assert = require('node:assert/strict');
const { setup, rejection, plain } = require('./setup');
const { DAY } = require('./fake-backend');

const LOGIN = 'POST /pb/api/wechat/login';
const REFRESH = 'POST /pb/api/system/refresh-token';
const PROFILE = 'POST /pb/api/wechat/profile';
const withCode = (h) => JSON.parse(h.body).users_wx_code !== undefined;
const withBearer = (h) => h.auth.startsWith('Bearer ');

test('login stores the token; the next createClient restores it without a login', async () => {
  const { client, wx, backend, again } = setup();
  const data = await client.login();
  assert.equal(data.status, 'register_success');
  assert.equal(client.user.openid, 'dev-openid-alice');
  assert.equal(wx.getStorageSync('bai_auth_token'), client.token);
  assert.equal(typeof wx.storage.get('bai_auth_token'), 'string');

  const restored = again();
  assert.equal(restored.token, client.token);
  const user = await restored.profile({ users_name: '张三' });
  assert.equal(user.users_name, '张三');
  assert.equal(wx.logins, 1);
  assert.equal(backend.count(PROFILE, (h) => h.auth === 'Bearer ' + client.token), 1);
});

test('a 401 logs in again silently with a fresh code to refresh-token and retries the call once', async () => {
  const { client, wx, backend } = setup();
  await client.login();
  const old = client.token;
  backend.users.get('alice').key += 1; // every token of alice dies (as logout on another device does)

  const user = await client.profile({ users_tag: 'vip' });
  assert.equal(user.openid, 'dev-openid-alice');
  assert.notEqual(client.token, old);
  assert.equal(wx.getStorageSync('bai_auth_token'), client.token);
  assert.equal(wx.logins, 2);
  const relogins = backend.hits.filter((h) => h.key === REFRESH);
  assert.equal(relogins.length, 1);
  assert.deepEqual(JSON.parse(relogins[0].body), { users_wx_code: 'alice.2' });
  assert.equal(relogins[0].auth, '', 'the re-login does not send the refused token');
  assert.equal(backend.count(PROFILE), 2);
});

test('several calls failing at once share one re-login: one wx.login, one refresh-token', async () => {
  const { client, wx, backend } = setup();
  await client.login();
  backend.users.get('alice').key += 1;

  const release = backend.hold();
  const calls = [1, 2, 3, 4, 5].map((n) => client.profile({ users_tag: 't' + n }));
  setTimeout(release, 20);
  const users = await Promise.all(calls);
  assert.equal(users.length, 5);
  assert.equal(wx.logins, 2, 'one wx.login for the first login, one for the shared re-login');
  assert.equal(backend.count(REFRESH, withCode), 1);
  assert.equal(backend.count(PROFILE), 10);
  assert.equal(new Set(backend.hits.filter((h) => h.key === PROFILE).slice(5).map((h) => h.auth)).size, 1);
});

test('a token within a day of its expiry is renewed with refresh-token (bearer) before use, once for a burst', async () => {
  const { client, wx, backend, again } = setup();
  await client.login();
  const short = backend.token(backend.users.get('alice'), DAY - 60);
  wx.setStorageSync('bai_auth_token', short);
  const fresh = again();

  await Promise.all([fresh.profile({}), fresh.usersCount(), fresh.profile({ users_tag: 'x' })]);
  assert.equal(backend.count(REFRESH, (h) => h.auth === 'Bearer ' + short), 1);
  assert.equal(backend.count(REFRESH, withCode), 0);
  assert.equal(backend.count(PROFILE, (h) => h.auth === 'Bearer ' + short), 0, 'the old token is not used');
  assert.equal(backend.count(PROFILE, (h) => h.auth === 'Bearer ' + fresh.token), 2);
  assert.equal(wx.logins, 1);
});

test('an expired token is not sent: a re-login comes first', async () => {
  const { client, wx, backend, again } = setup();
  await client.login();
  const expired = backend.token(backend.users.get('alice'), -10);
  wx.setStorageSync('bai_auth_token', expired);
  const fresh = again();
  await fresh.profile({});
  assert.equal(backend.hits.filter((h) => h.auth === 'Bearer ' + expired).length, 0);
  assert.equal(backend.count(REFRESH, withCode), 1);
});

test('a renewal refused with 401 falls back to the re-login', async () => {
  const { client, wx, backend, again } = setup();
  await client.login();
  const short = backend.token(backend.users.get('alice'), 3600);
  backend.users.get('alice').key += 1;
  wx.setStorageSync('bai_auth_token', short);
  const fresh = again();
  await fresh.profile({});
  assert.equal(backend.count(REFRESH, withBearer), 1);
  assert.equal(backend.count(REFRESH, withCode), 1);
  assert.equal(backend.count(PROFILE), 1);
});

test('a renewal that gets no answer keeps the token while it is still valid', async () => {
  const { client, wx, backend, again } = setup();
  await client.login();
  const short = backend.token(backend.users.get('alice'), 3600);
  wx.setStorageSync('bai_auth_token', short);
  backend.queue(REFRESH, new Error('net::ERR_CONNECTION_RESET'));
  const fresh = again();
  await fresh.profile({});
  assert.equal(backend.count(PROFILE, (h) => h.auth === 'Bearer ' + short), 1);
  assert.equal(fresh.token, short);
});

for (const [status, body] of [
  [403, { code: 403, msg: '没有权限', data: {} }],
  [500, { code: 500, msg: '服务端错误', data: {} }],
  [400, { code: 400, msg: '手机号格式不正确', data: { field: 'users_phone' } }],
]) {
  test(`a ${status} is never retried and never logs in`, async () => {
    const { client, wx, backend } = setup();
    await client.login();
    backend.queue(PROFILE, { status, body: JSON.stringify(body) });
    const err = await rejection(client.profile({ users_phone: '1' }));
    assert.equal(err.status, status);
    assert.equal(err.msg, body.msg);
    assert.deepEqual(plain(err.data), body.data);
    assert.equal(backend.count(PROFILE), 1);
    assert.equal(wx.logins, 1);
  });
}

test('a second 401 after the retry rejects: one re-login, one retry', async () => {
  const { client, wx, backend } = setup();
  await client.login();
  const refused = { status: 401, body: JSON.stringify({ code: 401, msg: 'token 无效或已过期,请重新登录', data: {} }) };
  backend.queue(PROFILE, refused, refused);
  const err = await rejection(client.profile({}));
  assert.equal(err.status, 401);
  assert.equal(backend.count(PROFILE), 2);
  assert.equal(wx.logins, 2);
});

test('calls that never need a token never log in: users count, public lists', async () => {
  const { client, wx, backend } = setup();
  assert.equal(await client.usersCount(), 0);
  const list = await client.collection('tbl_company').getList(1, 10);
  assert.equal(list.totalItems, 0);
  assert.equal(wx.logins, 0);
  assert.ok(backend.hits.every((h) => h.auth === ''));
});

test('users count sends no bearer even when signed in; public lists send it', async () => {
  const { client, backend } = setup();
  await client.login();
  await client.usersCount();
  await client.collection('tbl_company').getList();
  assert.equal(backend.hits.find((h) => h.key === 'POST /pb/api/system/users-count').auth, '');
  assert.equal(backend.hits.find((h) => h.key.startsWith('GET')).auth, 'Bearer ' + client.token);
});

test('a public list with an expired stored token sends none and never logs in', async () => {
  const { client, wx, backend, again } = setup();
  await client.login();
  const expired = backend.token(backend.users.get('alice'), -10);
  wx.setStorageSync('bai_auth_token', expired);
  await again().collection('tbl_company').getList();
  assert.equal(backend.hits.at(-1).auth, '');
  assert.equal(wx.logins, 1);
  assert.equal(backend.count(REFRESH), 0);
});

test('a public call refused with 401 is retried after a re-login only when it had sent a token', async () => {
  const { client, wx, backend } = setup();
  const LIST = 'GET /pb/api/collections/tbl_company/records';
  const refused = { status: 401, body: JSON.stringify({ data: {}, message: 'The request requires valid record authorization token.', status: 401 }) };
  backend.queue(LIST, refused);
  const guest = await rejection(client.collection('tbl_company').getList());
  assert.equal(guest.status, 401);
  assert.equal(guest.msg, '登录已失效,请重新登录');
  assert.equal(guest.data.message, 'The request requires valid record authorization token.');
  assert.equal(wx.logins, 0);

  await client.login();
  backend.queue(LIST, refused);
  assert.equal((await client.collection('tbl_company').getList()).totalItems, 0);
  assert.equal(wx.logins, 2);
  assert.equal(backend.count(LIST), 3);
});

test('a call that needs a token logs in silently when none is stored (and no logout was asked for)', async () => {
  const { client, wx, backend, again } = setup();
  await client.login();
  wx.removeStorageSync('bai_auth_token'); // storage cleared, as the devtools or a new install do
  const fresh = again();
  assert.equal(fresh.token, '');
  await fresh.profile({});
  assert.equal(wx.logins, 2);
  assert.equal(backend.count(REFRESH, withCode), 1);
});

const SIGNED_OUT = 'bai_auth_token:signed_out';

async function assertSignedOut(client, wx, backend, mod) {
  const logins = wx.logins;
  const refreshes = backend.count(REFRESH);
  for (const call of [() => client.profile({}), () => client.bindPhone('phone-13800138000'),
    () => client.upload('a.jpg'), () => client.refresh()]) {
    const err = await rejection(call());
    assert.ok(err instanceof mod.ApiError);
    assert.equal(err.status, 401);
    assert.equal(err.code, 401);
    assert.equal(err.msg, '已退出登录,请重新登录');
  }
  assert.equal(wx.logins, logins, 'no wx.login after an explicit sign-out');
  assert.equal(backend.count(REFRESH), refreshes, 'no refresh-token after an explicit sign-out');
  assert.equal(backend.count(PROFILE, (h) => h.auth === ''), 0);
  // the public calls still work, without a bearer
  assert.equal(typeof await client.usersCount(), 'number');
  assert.equal((await client.collection('tbl_company').getList()).totalItems, 0);
  assert.equal(backend.hits.at(-1).auth, '');
  assert.equal(wx.logins, logins);
}

test('after logout, calls that need a token reject with 401 and never log in again, until login()', async () => {
  const { client, wx, backend, mod, again } = setup({ files: { 'a.jpg': Buffer.from('x') } });
  await client.login();
  await client.logout();
  assert.equal(wx.getStorageSync(SIGNED_OUT), true);
  await assertSignedOut(client, wx, backend, mod);
  await assertSignedOut(again(), wx, backend, mod); // the signed-out state survives a new createClient

  const data = await client.login();
  assert.equal(data.status, 'login_success');
  assert.equal(wx.getStorageSync(SIGNED_OUT), '', 'login() removes the marker');
  assert.equal((await client.profile({})).openid, 'dev-openid-alice');
  assert.equal((await again().profile({})).openid, 'dev-openid-alice');
  // and the ordinary 401 logs in silently again
  backend.users.get('alice').key += 1;
  await client.profile({});
  assert.equal(backend.count(REFRESH, withCode), 1);
});

test('a logout that fails still signs out on this device', async () => {
  const { client, wx, backend, mod } = setup({ files: { 'a.jpg': Buffer.from('x') } });
  await client.login();
  backend.queue('POST /pb/api/wechat/logout', new Error('net::ERR_CONNECTION_RESET'));
  assert.equal((await rejection(client.logout())).status, 0);
  assert.equal(client.token, '');
  await assertSignedOut(client, wx, backend, mod);
});

test('after closeAccount, calls that need a token reject with 401 and never log in again, until login()', async () => {
  const { client, wx, backend, mod, again } = setup({ files: { 'a.jpg': Buffer.from('x') } });
  await client.login();
  await client.closeAccount();
  await assertSignedOut(client, wx, backend, mod);
  await assertSignedOut(again(), wx, backend, mod);
  await client.login();
  assert.equal(wx.getStorageSync(SIGNED_OUT), '');
  assert.equal((await client.profile({})).openid, 'dev-openid-alice');
});

test('a re-login already in flight when logout completes does not sign the user in again', async () => {
  const { client, wx, backend, mod } = setup();
  await client.login();
  // logout answers after 50 ms, refresh-token after 100 ms: the profile's 401 starts a re-login before
  // the logout is done, and its token comes back after it.
  const request = wx.request;
  wx.request = (options) => {
    const delay = /\/logout$/.test(options.url) ? 50 : /\/refresh-token$/.test(options.url) ? 100 : 0;
    return request.call(wx, Object.assign({}, options, { success: (res) => setTimeout(() => options.success(res), delay) }));
  };
  const logout = client.logout();
  const profile = client.profile({});
  await logout;
  const err = await rejection(profile);
  assert.ok(err instanceof mod.ApiError);
  assert.equal(err.status, 401);
  assert.equal(err.msg, '已退出登录,请重新登录');
  assert.equal(backend.count(REFRESH, withCode), 1, 'the re-login did run');
  assert.equal(client.token, '', 'its token is not kept');
  assert.equal(wx.getStorageSync('bai_auth_token'), '');
});

test('a re-login for an unknown user rejects with its 404 and leaves no token', async () => {
  const { client, wx } = setup({ codes: 'nobody' });
  const err = await rejection(client.profile({}));
  assert.equal(err.status, 404);
  assert.equal(err.msg, '当前用户不存在,请先登录');
  assert.equal(client.token, '');
  assert.equal(wx.getStorageSync('bai_auth_token'), '');
});

test('refresh() renews now and stores the new token', async () => {
  const { client, wx, backend } = setup();
  await client.login();
  const old = client.token;
  const token = await client.refresh();
  assert.equal(token, client.token);
  assert.notEqual(token, old);
  assert.equal(wx.getStorageSync('bai_auth_token'), token);
  assert.equal(backend.count(REFRESH, (h) => h.auth === 'Bearer ' + old), 1);
});

test('logout and closeAccount forget the stored token and the user', async () => {
  const { client, wx, again } = setup();
  await client.login();
  assert.deepEqual(plain(await client.logout()), { status: 'logout_success' });
  assert.equal(client.token, '');
  assert.equal(client.user, null);
  assert.equal(again().token, '');

  await client.login();
  assert.deepEqual(plain(await client.closeAccount()), { status: 'close_success' });
  assert.equal(client.token, '');
  assert.equal(wx.getStorageSync('bai_auth_token'), '');
});

test('wx.login failing rejects with an ApiError of status 0', async () => {
  const { client, mod } = setup({ loginError: 'auth deny' });
  const err = await rejection(client.login());
  assert.ok(err instanceof mod.ApiError);
  assert.equal(err.status, 0);
  assert.match(err.data.errMsg, /^login:fail/);
});
