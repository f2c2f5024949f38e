'use strict';
/**
 * An in-memory stand-in for the stack behind nginx, for the unit tests: our routes answer our envelope,
 * /pb/api/collections and /pb/api/batch answer as PocketBase does (shapes from spec/openapi-wx.yaml and
 * the running stack). Tokens are JWT-shaped with `exp`; logout changes the user's key so its tokens die.
 * The e2e test runs the same client against the real stack.
 */

const DAY = 24 * 3600;

function b64url(value) {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function envelope(status, msg, data, extra) {
  return { status, body: Object.assign({ code: status, msg, data: data || {} }, extra || {}) };
}

function pbError(status, message, data) {
  return { status, body: { data: data || {}, message, status } };
}

function createBackend() {
  const users = new Map(); // name -> user
  const records = new Map(); // id -> company record
  let issued = 0;
  const hits = [];
  const once = new Map(); // "METHOD path" -> [answers to give before the real one]
  let gate = null;

  function token(user, ttl = 7 * DAY) {
    issued += 1;
    const exp = Math.floor(Date.now() / 1000) + ttl;
    return b64url({ alg: 'HS256', typ: 'JWT' }) + '.' +
      b64url({ id: user.pb_id, exp, key: user.key, n: issued, refreshable: true, type: 'auth' }) + '.sig' + issued;
  }

  function bearerUser(headers) {
    const raw = String(headers.Authorization || headers.authorization || '').replace(/^Bearer /, '');
    if (!raw) return null;
    try {
      const claims = JSON.parse(Buffer.from(raw.split('.')[1], 'base64url').toString());
      const user = [...users.values()].find((u) => u.pb_id === claims.id);
      return user && user.key === claims.key && claims.exp * 1000 > Date.now() ? user : null;
    } catch (err) {
      return null;
    }
  }

  function userInfo(user) {
    return { pb_id: user.pb_id, users_id: 'USR-' + user.pb_id, users_name: user.users_name || '',
      users_phone: user.users_phone || '', users_picture: user.users_picture || '', openid: 'dev-openid-' + user.name };
  }

  function route(req, path, body) {
    const me = bearerUser(req.headers);
    const name = typeof body.users_wx_code === 'string' ? body.users_wx_code.split('.')[0] : '';
    switch (path) {
      case '/pb/api/wechat/login': {
        if (!name) return envelope(400, 'users_wx_code 不能为空', { field: 'users_wx_code' });
        const registered = !users.has(name);
        if (registered) users.set(name, { name, pb_id: 'pb' + (users.size + 1), key: 1 });
        const user = users.get(name);
        return envelope(200, registered ? '注册成功' : '登录成功',
          { status: registered ? 'register_success' : 'login_success', is_info_complete: false, user: userInfo(user) },
          { token: token(user) });
      }
      case '/pb/api/system/refresh-token': {
        if (me) return envelope(200, '刷新成功', {}, { token: token(me) });
        if (!name) return envelope(401, 'token 无效或已过期,请重新登录');
        if (!users.has(name)) return envelope(404, '当前用户不存在,请先登录');
        return envelope(200, '刷新成功', {}, { token: token(users.get(name)) });
      }
      case '/pb/api/system/users-count':
        return envelope(200, '查询成功', { total_users: users.size });
      default:
        break;
    }
    if (!me) return envelope(401, req.headers.Authorization ? 'token 无效或已过期,请重新登录' : '缺少 Authorization token');
    switch (path) {
      case '/pb/api/wechat/profile': {
        const changes = Object.assign({}, body);
        if (changes.users_phone_code) {
          changes.users_phone = changes.users_phone_code.replace(/^phone-/, '');
          delete changes.users_phone_code;
        }
        Object.keys(changes).forEach((k) => { if (changes[k]) me[k] = changes[k]; });
        return envelope(200, '资料更新成功', { status: 'update_success', user: userInfo(me) });
      }
      case '/pb/api/wechat/logout':
        me.key += 1;
        return envelope(200, '已退出登录', { status: 'logout_success' });
      case '/pb/api/wechat/close-account':
        users.delete(me.name);
        return envelope(200, '账号已注销', { status: 'close_success' });
      case '/pb/api/wechat/upload': {
        if (!req.file || req.file.name !== 'file') return envelope(400, '缺少上传文件', { field: 'file' });
        return envelope(200, '上传成功', { attachment: { attachments_id: 'ATT-1', attachments_filename: req.file.filename,
          attachments_size: req.file.content.length, attachments_owner: me.users_id, url: 'https://files/x.png' } });
      }
      default:
        return envelope(404, '接口不存在');
    }
  }

  function collections(req, url, body) {
    const match = url.pathname.match(/^\/pb\/api\/collections\/tbl_company\/records(?:\/([^/]+))?$/);
    if (url.pathname === '/pb/api/batch' && req.method === 'POST') {
      const inner = body.requests[0];
      const answer = collections({ method: inner.method, headers: req.headers }, new URL('/pb' + inner.url, 'http://x'), inner.body);
      if (answer.status >= 400) {
        return pbError(400, 'Batch transaction failed.', { requests: { 0: { code: 'batch_request_failed',
          message: 'Batch request failed.', response: answer.body } } });
      }
      return { status: 200, body: [{ status: answer.status, body: answer.body }] };
    }
    if (!match) return pbError(404, "The requested resource wasn't found.");
    const id = match[1] && decodeURIComponent(match[1]);
    if (req.method === 'GET' && !id) {
      const want = url.searchParams.get('filter');
      const items = [...records.values()].filter((r) => !want || want === "company_id = '" + r.company_id + "'");
      const perPage = Number(url.searchParams.get('perPage') || 30);
      return { status: 200, body: { items: items.slice(0, perPage), page: Number(url.searchParams.get('page') || 1),
        perPage, totalItems: items.length, totalPages: Math.ceil(items.length / perPage) } };
    }
    if (req.method === 'GET') return records.has(id) ? { status: 200, body: records.get(id) } : pbError(404, "The requested resource wasn't found.");
    if (req.method === 'POST') {
      const record = Object.assign({ id: 'r' + (records.size + 1), collectionName: 'tbl_company', company_id: 'CMP-' + (records.size + 1) }, body);
      records.set(record.id, record);
      return { status: 200, body: record };
    }
    if (req.method === 'PATCH') {
      if (!records.has(id)) return pbError(404, "The requested resource wasn't found.");
      Object.assign(records.get(id), body);
      return { status: 200, body: records.get(id) };
    }
    return pbError(405, 'Method not allowed.');
  }

  async function send(req) {
    const url = new URL(req.url);
    const key = req.method + ' ' + url.pathname;
    hits.push({ key, url: req.url, auth: req.headers.Authorization || '', body: req.file ? null : String(req.body) });
    if (gate) await gate;
    const queued = once.get(key);
    if (queued && queued.length) {
      const next = queued.shift();
      if (next instanceof Error) throw next;
      return Object.assign({ headers: { 'Content-Type': 'application/json' } }, next);
    }
    const text = String(req.body || '');
    const body = req.file ? {} : (text ? JSON.parse(text) : {});
    const answer = url.pathname.startsWith('/pb/api/collections/') || url.pathname === '/pb/api/batch'
      ? collections(req, url, body) : route(req, url.pathname, body);
    return { status: answer.status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(answer.body) };
  }

  return {
    send,
    hits,
    users,
    token,
    /** Answer `METHOD path` with these first ({status, body} with a string body, or an Error = no answer). */
    queue(key, ...answers) { once.set(key, answers); },
    /** Hold every answer until release() (concurrency tests). */
    hold() {
      let release;
      gate = new Promise((resolve) => { release = resolve; });
      return () => { gate = null; release(); };
    },
    count(key, predicate = () => true) { return hits.filter((h) => h.key === key && predicate(h)).length; },
  };
}

module.exports = { createBackend, DAY };
