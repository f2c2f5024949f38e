'use strict';
/**
 * An in-memory stand-in for the stack behind nginx, for the unit tests: our routes answer our envelope,
 * /pb/api/collections and /pb/api/batch answer as PocketBase does (shapes from spec/openapi-wx.yaml and
 * the running stack). Tokens are JWT-shaped with `exp`; logout changes the user's key so its tokens die.
 * Uploads are kept as tbl_attachments records, listed to their owner only (the rule of issue #30);
 * /pb/api/realtime is PocketBase's realtime API (an event stream, PB_CONNECT, topics with the token) with
 * the rules applied as PocketBase does: an attachment's events reach its owner only.
 * The e2e test runs the same client against the real stack.
 */
const { PassThrough } = require('node:stream');

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
  const attachments = []; // tbl_attachments records, oldest first
  const streams = new Map(); // realtime clientId -> {stream, topics, user, closed}
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
        // As PocketBase on a new tokenKey: the user's realtime connections end (tests/test_access_realtime.py).
        for (const client of streams.values()) {
          if (client.user === me && !client.closed) { client.closed = true; client.stream.end(); }
        }
        return envelope(200, '已退出登录', { status: 'logout_success' });
      case '/pb/api/wechat/close-account':
        users.delete(me.name);
        return envelope(200, '账号已注销', { status: 'close_success' });
      case '/pb/api/wechat/upload': {
        if (!req.file || req.file.name !== 'file') return envelope(400, '缺少上传文件', { field: 'file' });
        const n = attachments.length + 1;
        const record = { id: 'att' + n, collectionName: 'tbl_attachments', attachments_id: 'ATT-' + n,
          attachments_filename: req.file.filename, attachments_size: req.file.content.length,
          attachments_owner: 'dev-openid-' + me.name, attachments_status: '审核中',
          created: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString().replace('T', ' ') };
        attachments.push(record);
        broadcast('create', record);
        // The route's answer: the Attachment of the spec (no PocketBase record id, no created).
        const attachment = { url: 'https://files/x.png' };
        for (const key of Object.keys(record)) if (key.startsWith('attachments_')) attachment[key] = record[key];
        return envelope(200, '上传成功', { attachment });
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

  /** GET tbl_attachments' list: the caller's own records (paged, sorted by created); a guest the exact id only. */
  function attachmentList(req, url) {
    const me = bearerUser(req.headers);
    const want = url.searchParams.get('filter');
    let items;
    if (me) {
      items = attachments.filter((a) => a.attachments_owner === 'dev-openid-' + me.name);
    } else if (want && /^attachments_id ?= ?["'][^"']+["']$/.test(want)) {
      items = attachments.filter((a) => want.includes(a.attachments_id));
    } else {
      return pbError(400, 'Only the filter attachments_id="<id>" is allowed for this collection.');
    }
    const sort = url.searchParams.get('sort') || '';
    items = items.slice().sort((a, b) => (a.created < b.created ? -1 : 1));
    if (sort === '-created') items.reverse();
    else if (sort && sort !== 'created') return pbError(400, 'Something went wrong while processing your request.');
    const page = Number(url.searchParams.get('page') || 1);
    const perPage = Number(url.searchParams.get('perPage') || 30);
    return { status: 200, body: { items: items.slice((page - 1) * perPage, page * perPage), page, perPage,
      totalItems: items.length, totalPages: Math.ceil(items.length / perPage) } };
  }

  function frame(clientId, name, data) {
    return 'id:' + clientId + '\nevent:' + name + '\ndata:' + JSON.stringify(data) + '\n\n';
  }

  /** A record event to every client whose topic covers it and whose user the rule admits. */
  function broadcast(action, record) {
    for (const [clientId, client] of streams) {
      if (client.closed) continue;
      const admitted = record.collectionName !== 'tbl_attachments' ||
        (client.user && 'dev-openid-' + client.user.name === record.attachments_owner);
      if (!admitted) continue;
      for (const topic of client.topics) {
        const base = topic.split('?')[0];
        if (base === record.collectionName + '/*' || base === record.collectionName + '/' + record.id) {
          client.stream.write(frame(clientId, topic, { action, record }));
        }
      }
    }
  }

  function realtime(req) {
    if (req.method === 'GET') {
      const clientId = 'client' + (streams.size + 1);
      const stream = new PassThrough();
      const client = { stream, topics: [], user: null, closed: false };
      streams.set(clientId, client);
      const close = () => { client.closed = true; stream.end(); };
      stream.write(frame(clientId, 'PB_CONNECT', { clientId }));
      return { status: 200, headers: { 'Content-Type': 'text/event-stream' }, stream, cancel: close };
    }
    const body = JSON.parse(String(req.body));
    const client = streams.get(body.clientId);
    if (!client || client.closed) return pbError(404, 'Missing or invalid client id.');
    const user = bearerUser(req.headers);
    if (client.user && client.user !== user) {
      return pbError(403, "The current and the previous request authorization don't match.");
    }
    client.user = user;
    client.topics = body.subscriptions;
    return { status: 204, body: '' };
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
    if (url.pathname === '/pb/api/realtime') {
      const answer = realtime(req);
      if (answer.stream) return answer;
      return { status: answer.status, headers: { 'Content-Type': 'application/json' },
        body: typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body) };
    }
    if (url.pathname === '/pb/api/collections/tbl_attachments/records' && req.method === 'GET') {
      const answer = attachmentList(req, url);
      return { status: answer.status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(answer.body) };
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
    attachments,
    /** The realtime clients by id: {stream, topics, user, closed}. */
    streams,
    /** An attachment's verdict, as moderation applies it: its status changes and the update is broadcast. */
    verdict(attachmentsId, status) {
      const record = attachments.find((a) => a.attachments_id === attachmentsId);
      record.attachments_status = status;
      broadcast('update', record);
    },
    broadcast,
    /** PocketBase closes every realtime connection (its idle timeout, a restart). */
    closeStreams() { for (const client of streams.values()) { client.closed = true; client.stream.end(); } },
    /** Every realtime connection breaks (the network is lost). */
    breakStreams() {
      for (const client of streams.values()) { client.closed = true; client.stream.destroy(new Error('net::ERR_CONNECTION_RESET')); }
    },
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
