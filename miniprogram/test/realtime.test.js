'use strict';
// Realtime: the event-stream parser as a table of streams cut everywhere, and subscribe / unsubscribe
// under the fake wx (chunks as ArrayBuffers cut anywhere) against the fake backend's PocketBase realtime.
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadClient } = require('./load');
const { createFakeWx, randomCuts } = require('./fake-wx');
const { createBackend } = require('./fake-backend');
const { setup, rejection, plain, BASE_URL } = require('./setup');

const { createEventStreamParser } = loadClient().client;

/** The events of a stream given as byte pieces (Buffers), as plain data. */
function parse(pieces) {
  const parser = createEventStreamParser();
  const events = [];
  for (const piece of pieces) {
    const copy = piece.buffer.slice(piece.byteOffset, piece.byteOffset + piece.length); // an ArrayBuffer
    events.push(...parser.push(copy));
  }
  events.push(...parser.end());
  return plain(events);
}

const ev = (type, data, lastEventId) => ({ type, data, lastEventId });

// [what it shows, the stream, its events] (html.spec.whatwg.org, "Parsing an event stream").
const STREAMS = [
  ['PocketBase frames, with Chinese, an emoji and a 4-byte character',
    'id:c1\nevent:PB_CONNECT\ndata:{"clientId":"c1"}\n\n' +
    'id:c1\nevent:tbl_attachments/*\ndata:{"action":"update","record":{"attachments_status":"违规","n":"😀𠀀"}}\n\n',
    [ev('PB_CONNECT', '{"clientId":"c1"}', 'c1'),
      ev('tbl_attachments/*', '{"action":"update","record":{"attachments_status":"违规","n":"😀𠀀"}}', 'c1')]],
  ['CRLF and CR line ends, one space after the colon dropped',
    'event: a\r\ndata:  x\r\n\r\nevent:b\rdata:y\r\r',
    [ev('a', ' x', ''), ev('b', 'y', '')]],
  ['a BOM, comments, a field without colon, unknown fields, multi-line data',
    '\ufeff: hello\ndata\ndata:二\nretry:100\nfoo:bar\n\n',
    [ev('message', '\n二', '')]],
  ['an event without data is dropped; the id carries over; an id with NUL is ignored',
    'event:x\nid:7\n\ndata:a\n\nid:8\u0000\ndata:b\n\n',
    [ev('message', 'a', '7'), ev('message', 'b', '7')]],
  ['an unfinished event at the end is dropped', 'data:done\n\ndata:half', [ev('message', 'done', '')]],
  ['invalid UTF-8 becomes U+FFFD', Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0xff, 0xe4, 0xb8, 0x41, 0x0a, 0x0a]),
    [ev('message', '\ufffd\ufffdA', '')]],
];

for (const [name, stream, events] of STREAMS) {
  test('event stream: ' + name + ' (whole, one cut anywhere, two cuts anywhere, byte by byte)', () => {
    const bytes = Buffer.isBuffer(stream) ? stream : Buffer.from(stream, 'utf8');
    assert.deepEqual(parse([bytes]), events);
    for (let i = 0; i <= bytes.length; i++) {
      assert.deepEqual(parse([bytes.subarray(0, i), bytes.subarray(i)]), events, 'cut at ' + i);
      for (let j = i; j <= bytes.length; j += 3) {
        assert.deepEqual(parse([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]), events, `cuts at ${i}, ${j}`);
      }
    }
    assert.deepEqual(parse([...bytes].map((b) => Buffer.from([b]))), events, 'byte by byte');
  });
}

test('event stream: a UTF-8 character cut between chunks is not U+FFFD, and a BOM cut in two is still a BOM', () => {
  const parser = createEventStreamParser();
  const bytes = Buffer.from('\ufeffdata:违规\n\n');
  assert.deepEqual(plain(parser.push(bytes.subarray(0, 1))), []);
  assert.deepEqual(plain(parser.push(bytes.subarray(1, 9))), []);
  assert.deepEqual(plain(parser.push(bytes.subarray(9))), [ev('message', '违规', '')]);
});

// ------------------------------------------------------------ subscribe / unsubscribe

/** Resolves once predicate() holds (polled; fails after the deadline). */
async function until(predicate, what, deadline = 5000) {
  const end = Date.now() + deadline;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function openStreams(backend) {
  return [...backend.streams.values()].filter((c) => !c.closed);
}

test('an upload\'s verdict arrives by realtime: the token goes with the topics, the events are PocketBase\'s', async () => {
  const { client, backend, wx } = setup({ files: { 'a.png': Buffer.from('png') } });
  await client.login();
  const attachment = await client.upload('a.png');
  const [record] = (await client.myUploads()).items;
  const seen = [];
  const unsubscribe = await client.subscribe('tbl_attachments', record.id, (e) => seen.push(e));
  const get = wx.calls.find((c) => c.url === BASE_URL + '/api/realtime' && c.method === 'GET');
  assert.equal(get.headers.Authorization, undefined, 'the stream itself carries no token');
  const post = wx.calls.find((c) => c.url === BASE_URL + '/api/realtime' && c.method === 'POST');
  assert.equal(post.headers.Authorization, 'Bearer ' + client.token);
  assert.deepEqual(JSON.parse(post.body), { clientId: 'client1', subscriptions: ['tbl_attachments/' + record.id] });

  backend.verdict(attachment.attachments_id, '违规');
  await until(() => seen.length === 1, 'the verdict');
  assert.equal(seen[0].action, 'update');
  assert.equal(seen[0].record.attachments_status, '违规');
  assert.equal(seen[0].record.attachments_id, attachment.attachments_id);

  await unsubscribe();
  assert.deepEqual(openStreams(backend), [], 'the last unsubscribe closes the stream');
});

test('the rules decide: another user\'s attachment events never reach the callback', async () => {
  const { client, backend, wx } = setup({ files: { 'a.png': Buffer.from('png') } });
  await client.login();
  const mine = await client.upload('a.png');
  const other = createFakeWx({ send: backend.send, codes: 'mallory' });
  const spy = loadClient().client.createClient({ baseUrl: BASE_URL, wx: other });
  await spy.login();
  const seen = [];
  await spy.subscribe('tbl_attachments', '*', (e) => seen.push(e));
  const own = [];
  await client.subscribe('tbl_attachments', '*', (e) => own.push(e));
  backend.verdict(mine.attachments_id, '有效');
  await until(() => own.length === 1, 'the owner\'s event');
  assert.deepEqual(seen, []);
  await spy.unsubscribe();
  await client.unsubscribe();
  assert.equal(wx.calls.length > 0, true);
});

for (const [loss, drop] of [['PocketBase closes the connection (its 5-minute idle close)', 'closeStreams'],
  ['the network is lost', 'breakStreams']]) {
  test('after ' + loss + ': a new connection, every topic sent again with the token, events flow again', async () => {
    const { client, backend } = setup({ files: { 'a.png': Buffer.from('png'), 'b.png': Buffer.from('png') } });
    await client.login();
    const a = await client.upload('a.png');
    const [record] = (await client.myUploads()).items;
    const seen = [];
    await client.subscribe('tbl_attachments', record.id, (e) => seen.push(['one', e.record.attachments_status]));
    await client.subscribe('tbl_attachments', '*', (e) => seen.push(['all', e.action]), { fields: 'id,attachments_status' });
    backend[drop]();
    await until(() => openStreams(backend).length === 1 && openStreams(backend)[0].topics.length === 2, 'the resubscription');
    const [again] = openStreams(backend);
    assert.equal(again.user.name, 'alice', 'the topics went with the token');
    assert.deepEqual(again.topics, ['tbl_attachments/' + record.id,
      'tbl_attachments/*?options=' + encodeURIComponent(JSON.stringify({ query: { fields: 'id,attachments_status' } }))]);
    backend.verdict(a.attachments_id, '有效');
    await until(() => seen.length === 2, 'the events after the reconnection');
    assert.deepEqual(seen.sort(), [['all', 'update'], ['one', '有效']]);
    await client.unsubscribe('tbl_attachments');
    assert.deepEqual(openStreams(backend), []);
  });
}

test('a logout or a login as another user replaces the stream: the old user\'s events stop, the new one\'s flow', async () => {
  let who = 'alice';
  const { client, backend } = setup({ codes: (n) => who + '.' + n,
    files: { 'a.png': Buffer.from('png'), 'b.png': Buffer.from('png') } });
  await client.login();
  const alices = await client.upload('a.png');
  const seen = [];
  await client.subscribe('tbl_attachments', '*', (e) => seen.push(e.record.attachments_id));
  await client.subscribe('tbl_document', '*', () => {});
  assert.equal(openStreams(backend)[0].user.name, 'alice');

  // The logout ends alice's connection (as PocketBase does); the client opens one without a token.
  await client.logout();
  await until(() => openStreams(backend).length === 1 && openStreams(backend)[0].topics.length === 2 &&
    openStreams(backend)[0].user === null, 'a connection without a token');
  backend.verdict(alices.attachments_id, '有效');

  who = 'bob';
  await client.login();
  await until(() => openStreams(backend).length === 1 && openStreams(backend)[0].user &&
    openStreams(backend)[0].user.name === 'bob' && openStreams(backend)[0].topics.length === 2, 'bob\'s connection');
  backend.verdict(alices.attachments_id, '违规');
  const bobs = await client.upload('b.png');
  backend.verdict(bobs.attachments_id, '有效');
  await until(() => seen.length > 0, 'bob\'s event');
  assert.deepEqual(seen, [bobs.attachments_id], 'alice\'s events never reached the client after her logout');
  await client.unsubscribe();
  assert.deepEqual(openStreams(backend), []);
});

test('reconnections back off while PocketBase cannot be reached, then resubscribe', async () => {
  const { client, backend } = setup();
  await client.login();
  await client.subscribe('tbl_document', '*', () => {});
  const refused = new Error('net::ERR_CONNECTION_REFUSED');
  backend.queue('GET /pb/api/realtime', refused, refused, refused);
  backend.breakStreams();
  await until(() => openStreams(backend).some((c) => c.topics.length === 1), 'the connection after three failures');
  const gets = backend.hits.filter((h) => h.key === 'GET /pb/api/realtime');
  assert.equal(gets.length, 5, 'the first connection, three refused, the one that worked');
  await client.unsubscribe();
});

test('the first connection failing rejects the subscription with an ApiError; nothing is left open', async () => {
  const { client, backend, mod } = setup();
  backend.queue('GET /pb/api/realtime', new Error('net::ERR_NAME_NOT_RESOLVED'));
  const err = await rejection(client.subscribe('tbl_document', '*', () => {}));
  assert.ok(err instanceof mod.ApiError);
  assert.equal(err.status, 0);
  assert.equal(err.msg, '网络请求失败,请检查网络');
  // The next subscription connects anew.
  await client.subscribe('tbl_document', '*', () => {});
  assert.equal(openStreams(backend).length, 1);
  await client.unsubscribe();
});

test('no PB_CONNECT within 15 s: the first subscription rejects and the request is aborted', async () => {
  const backend = createBackend();
  const { PassThrough } = require('node:stream');
  const silent = new PassThrough();
  let cancelled = false;
  const send = (req) => (req.method === 'GET' && req.url.endsWith('/api/realtime')
    ? Promise.resolve({ status: 200, headers: {}, stream: silent, cancel: () => { cancelled = true; silent.end(); } })
    : backend.send(req));
  // The module's own timers, its 15 s connect timeout made 20 ms (the clock is the one thing sped up).
  const fast = (fn, ms) => setTimeout(fn, ms === 15000 ? 20 : ms);
  const client = loadClient({ setTimeout: fast }).client.createClient({ baseUrl: BASE_URL, wx: createFakeWx({ send }) });
  const err = await rejection(client.subscribe('tbl_document', '*', () => {}));
  assert.deepEqual(plain([err.status, err.msg]), [0, '实时连接超时,请稍后再试']);
  await until(() => cancelled, 'the abort');
});

test('subscriptions share one stream; unsubscribe by function, topic, collection, or all', async () => {
  const { client, backend } = setup();
  const seen = [];
  const first = await client.subscribe('tbl_document', '*', (e) => seen.push(['first', e.record.id]));
  await client.subscribe('tbl_document', '*', (e) => seen.push(['second', e.record.id]));
  await client.subscribe('tbl_company', 'r1', (e) => seen.push(['company', e.record.id]));
  assert.equal(backend.streams.size, 1);
  assert.deepEqual(openStreams(backend)[0].topics, ['tbl_document/*', 'tbl_company/r1']);
  backend.broadcast('create', { collectionName: 'tbl_document', id: 'd1' });
  await until(() => seen.length === 2, 'both listeners');
  await first();
  backend.broadcast('create', { collectionName: 'tbl_document', id: 'd2' });
  backend.broadcast('update', { collectionName: 'tbl_company', id: 'r1' });
  await until(() => seen.length === 4, 'the rest');
  assert.deepEqual(seen, [['first', 'd1'], ['second', 'd1'], ['second', 'd2'], ['company', 'r1']]);
  await client.unsubscribe('tbl_document', '*');
  assert.deepEqual(openStreams(backend)[0].topics, ['tbl_company/r1']);
  await client.unsubscribe('tbl_company');
  assert.deepEqual(openStreams(backend), []);
});

test('a listener that throws does not stop the stream; its error is reported as a timer\'s would be', async () => {
  const backend = createBackend();
  const wx = createFakeWx({ send: backend.send });
  const errors = [];
  // The base library reports an exception thrown in a timer (App.onError); here the timer catches it.
  const timers = (fn, ms) => setTimeout(() => { try { fn(); } catch (err) { errors.push(err.message); } }, ms);
  const client = loadClient({ setTimeout: timers }).client.createClient({ baseUrl: BASE_URL, wx });
  const seen = [];
  await client.subscribe('tbl_document', '*', (e) => { seen.push(e.record.id); throw new Error('page bug'); });
  backend.broadcast('create', { collectionName: 'tbl_document', id: 'd1' });
  backend.broadcast('create', { collectionName: 'tbl_document', id: 'd2' });
  await until(() => seen.length === 2 && errors.length === 2, 'both events and both reports');
  assert.deepEqual(errors, ['page bug', 'page bug']);
  await client.unsubscribe();
});

test('subscribe checks its arguments at once', () => {
  const { client } = setup();
  assert.throws(() => client.subscribe('company', '*', () => {}), { name: 'TypeError', message: /tbl_company/ });
  assert.throws(() => client.subscribe('tbl_document', '', () => {}), { name: 'TypeError' });
  assert.throws(() => client.subscribe('tbl_document', '*'), { name: 'TypeError' });
});

test('a wx without onChunkReceived (base library before 2.20.2) is said so', async () => {
  const backend = createBackend();
  const wx = createFakeWx({ send: backend.send });
  const old = Object.assign({}, wx, { request: (options) => { const task = wx.request(options); return { abort: task.abort }; } });
  const client = loadClient().client.createClient({ baseUrl: BASE_URL, wx: old });
  const err = await rejection(client.subscribe('tbl_document', '*', () => {}));
  assert.equal(err.msg, '当前微信版本不支持实时消息,请升级微信');
});

test('the fake wx cuts chunks anywhere and hands ArrayBuffers', () => {
  const cut = randomCuts(3)(Buffer.from('x'.repeat(200)));
  assert.ok(cut.length > 12);
  assert.ok(new Set(cut.map((c) => c.length)).size > 4);
  assert.equal(Buffer.concat(cut).length, 200);
});
