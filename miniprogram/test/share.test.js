'use strict';
// Issue #29 in the client: login({inviterPromoCode}), inviterPromoCode() from launch or onLoad options, shareCode().
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadClient } = require('./load');
const { createFakeWx } = require('./fake-wx');
const { rejection, plain, BASE_URL } = require('./setup');

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.' + Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 7 * 86400,
  type: 'auth', refreshable: true })).toString('base64url') + '.sig';
const SHARE = { promo_code: 'AB23CD45', scene: 'AB23CD45', page: 'pages/index/index', width: 430,
  url: 'https://api.test/pb/api/files/pbc_1/r1/share_x1y2z3.jpg' };

/** A client whose backend answers login and share-code (status and data of share-code given), and the wx. */
function shareSetup({ shareStatus = 200, shareMsg = '获取成功', shareData = SHARE, launch } = {}) {
  const wx = createFakeWx({ send: async (req) => {
    const path = new URL(req.url).pathname;
    if (path === '/pb/api/wechat/login') {
      return { status: 200, headers: {}, body: JSON.stringify({ code: 200, msg: '注册成功', token: TOKEN,
        data: { status: 'register_success', is_info_complete: false, user: { pb_id: 'p1', users_parent_id: '' } } }) };
    }
    if (path === '/pb/api/wechat/share-code') {
      return { status: shareStatus, headers: {}, body: JSON.stringify({ code: shareStatus, msg: shareMsg, data: shareData }) };
    }
    return { status: 404, headers: {}, body: '{"code":404,"msg":"接口不存在","data":{}}' };
  } });
  if (launch !== undefined) wx.getLaunchOptionsSync = () => launch;
  const { client: mod } = loadClient();
  return { wx, mod, client: mod.createClient({ baseUrl: BASE_URL, wx }) };
}

const body = (req) => JSON.parse(req.body.toString());

test('login sends inviter_promo_code only when one is given', async () => {
  const { wx, client } = shareSetup();
  await client.login({ inviterPromoCode: 'AB23CD45' });
  assert.deepEqual(body(wx.calls[0]), { users_wx_code: 'alice.1', inviter_promo_code: 'AB23CD45' });
  for (const options of [undefined, {}, { inviterPromoCode: '' }, { inviterPromoCode: 42 }]) {
    await client.login(options);
    assert.deepEqual(Object.keys(body(wx.calls.at(-1))), ['users_wx_code'], JSON.stringify(options));
  }
});

test('inviterPromoCode reads a scanned code, a shared link or nothing, from launch and onLoad options', () => {
  const { mod } = shareSetup();
  const table = [
    // wx.getLaunchOptionsSync(): the page query in .query, .scene the launch scene's number (1047: scanned code).
    [{ path: 'pages/index/index', scene: 1047, query: { scene: 'AB23CD45' } }, 'AB23CD45'],
    [{ path: 'pages/index/index', scene: 1007, query: { inviter_promo_code: 'XY78ZW23' } }, 'XY78ZW23'],
    [{ path: 'pages/index/index', scene: 1001, query: {} }, ''],
    // A page's onLoad options: the query itself; the scene URL-encoded.
    [{ scene: 'AB23CD45' }, 'AB23CD45'],
    [{ scene: encodeURIComponent(' AB23CD45 ') }, 'AB23CD45'],
    [{ inviter_promo_code: 'ab23cd45', scene: 'IGNORED1' }, 'ab23cd45'],
    // Not a code: another app's scene, a malformed escape, too long, nothing.
    [{ scene: encodeURIComponent('a=1&b=2') }, ''], [{ scene: '%E4%B8%AD%E6%96%87' }, ''], [{ scene: '%E4%B8' }, ''],
    [{ scene: 'A'.repeat(17) }, ''], [{ scene: 1047 }, ''], [{}, ''], [null, ''], [undefined, ''],
  ];
  for (const [options, code] of table) {
    assert.equal(mod.inviterPromoCode(options), code, JSON.stringify(options));
  }
});

test('client.inviterPromoCode() reads wx.getLaunchOptionsSync() unless given options', () => {
  assert.equal(shareSetup({ launch: { scene: 1047, query: { scene: 'AB23CD45' } } }).client.inviterPromoCode(), 'AB23CD45');
  assert.equal(shareSetup({ launch: { scene: 1047, query: {} } }).client.inviterPromoCode({ scene: 'XY78ZW23' }), 'XY78ZW23');
  assert.equal(shareSetup().client.inviterPromoCode(), '', 'a wx without getLaunchOptionsSync');
});

test('a launch from a shared code registers with its inviter', async () => {
  const { wx, client } = shareSetup({ launch: { scene: 1047, query: { scene: 'AB23CD45' } } });
  await client.login({ inviterPromoCode: client.inviterPromoCode() });
  assert.equal(body(wx.calls[0]).inviter_promo_code, 'AB23CD45');
});

test('shareCode posts page and width with the token and resolves the data', async () => {
  const { wx, client } = shareSetup();
  await client.login();
  assert.deepEqual(plain(await client.shareCode({ page: 'pages/shop/detail', width: 280 })), SHARE);
  const call = wx.calls.at(-1);
  assert.equal(call.url, BASE_URL + '/api/wechat/share-code');
  assert.equal(call.headers.Authorization, 'Bearer ' + TOKEN);
  assert.deepEqual(body(call), { page: 'pages/shop/detail', width: 280 });
  await client.shareCode();
  assert.deepEqual(body(wx.calls.at(-1)), {});
});

test('shareCode rejects with the envelope of a refusal', async () => {
  const { client } = shareSetup({ shareStatus: 400, shareMsg: 'page 不是可分享的页面', shareData: { field: 'page' } });
  await client.login();
  const err = await rejection(client.shareCode({ page: 'pages/other/index' }));
  assert.equal(err.name, 'ApiError');
  assert.deepEqual([err.status, err.msg, plain(err.data)], [400, 'page 不是可分享的页面', { field: 'page' }]);
});
