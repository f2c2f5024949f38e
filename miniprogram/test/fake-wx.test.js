'use strict';
// The fake wx keeps the base library's behaviour that the client relies on (see fake-wx.js's head).
const test = require('node:test');
const assert = require('node:assert/strict');
const { createFakeWx } = require('./fake-wx');

const answering = (status, body) => async () => ({ status, headers: { 'Content-Type': 'text/plain' }, body });

function call(wx, api, options) {
  return new Promise((resolve) => {
    const seen = [];
    let sync = true;
    wx[api](Object.assign({}, options, {
      success: (res) => seen.push(['success', res]),
      fail: (res) => seen.push(['fail', res]),
      complete: (res) => { seen.push(['complete', res]); resolve({ seen, sync }); },
    }));
    sync = false;
  });
}

test('request: success for any HTTP status, callbacks after the call returns, complete last', async () => {
  const wx = createFakeWx({ send: answering(503, '{"code":503}') });
  const { seen, sync } = await call(wx, 'request', { url: 'https://h/x', method: 'POST', data: { a: 1 } });
  assert.equal(sync, false);
  assert.deepEqual(seen.map(([kind]) => kind), ['success', 'complete']);
  assert.equal(seen[0][1].statusCode, 503);
  assert.deepEqual(seen[0][1].data, { code: 503 });
  assert.equal(seen[0][1].errMsg, 'request:ok');
  assert.equal(wx.calls[0].headers['content-type'], 'application/json');
  assert.equal(String(wx.calls[0].body), '{"a":1}');
});

test('request: data stays a string when it is not JSON or dataType is not json', async () => {
  const wx = createFakeWx({ send: answering(200, '<html>') });
  assert.equal((await call(wx, 'request', { url: 'https://h/x' })).seen[0][1].data, '<html>');
  const text = createFakeWx({ send: answering(200, '{"a":1}') });
  assert.equal((await call(text, 'request', { url: 'https://h/x', dataType: 'text' })).seen[0][1].data, '{"a":1}');
});

test('request: GET data is a query string; PATCH is not a wx.request method', async () => {
  const wx = createFakeWx({ send: answering(200, '{}') });
  await call(wx, 'request', { url: 'https://h/x?p=1', data: { filter: "a = 'b'" } });
  assert.equal(wx.calls[0].url, "https://h/x?p=1&filter=a%20%3D%20'b'");
  const { seen } = await call(wx, 'request', { url: 'https://h/x', method: 'PATCH', data: {} });
  assert.equal(seen[0][0], 'fail');
  assert.match(seen[0][1].errMsg, /^request:fail/);
});

test('request: no answer is fail with request:fail, a slow one request:fail timeout', async () => {
  const down = createFakeWx({ send: async () => { throw new Error('net::ERR_CONNECTION_REFUSED'); } });
  const refused = await call(down, 'request', { url: 'https://h/x' });
  assert.deepEqual(refused.seen.map(([kind]) => kind), ['fail', 'complete']);
  assert.equal(refused.seen[0][1].errMsg, 'request:fail net::ERR_CONNECTION_REFUSED');
  const slow = createFakeWx({ send: () => new Promise(() => {}) });
  assert.equal((await call(slow, 'request', { url: 'https://h/x', timeout: 20 })).seen[0][1].errMsg, 'request:fail timeout');
});

test('uploadFile: multipart with the file in the named part, data answered as a string', async () => {
  const wx = createFakeWx({ send: answering(200, '{"code":200}'), readFile: () => Buffer.from('JPEGDATA') });
  const { seen } = await call(wx, 'uploadFile', { url: 'https://h/u', filePath: 'http://tmp/a.jpg', name: 'file' });
  assert.equal(seen[0][1].data, '{"code":200}');
  assert.equal(seen[0][1].errMsg, 'uploadFile:ok');
  const body = String(wx.calls[0].body);
  assert.match(body, /Content-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image\/jpeg\r\n\r\nJPEGDATA\r\n/);
});

test('login gives a fresh code each time; storage keeps strings and reads "" for a missing key', async () => {
  const wx = createFakeWx({ send: answering(200, '{}'), codes: 'carol' });
  assert.equal((await call(wx, 'login', {})).seen[0][1].code, 'carol.1');
  assert.equal((await call(wx, 'login', {})).seen[0][1].code, 'carol.2');
  assert.equal(wx.getStorageSync('k'), '');
  wx.setStorageSync('k', 'token');
  assert.equal(wx.storage.get('k'), '"token"');
  assert.equal(wx.getStorageSync('k'), 'token');
  wx.removeStorageSync('k');
  assert.equal(wx.getStorageSync('k'), '');
});

/** A chunked wx.request: the chunks it handed (as Buffers), how it ended, and its task. */
function chunked(wx, options = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    const ends = [];
    const task = wx.request(Object.assign({ url: 'https://h/pb/api/realtime', enableChunked: true, responseType: 'arraybuffer' }, options, {
      success: (res) => ends.push(['success', res]),
      fail: (res) => ends.push(['fail', res]),
      complete: () => resolve({ chunks, ends, task }),
    }));
    task.onChunkReceived((res) => {
      assert.ok(res.data instanceof ArrayBuffer, 'an ArrayBuffer');
      assert.equal(ends.length, 0, 'every chunk comes before the end');
      chunks.push(Buffer.from(res.data));
    });
    if (options.onTask) options.onTask(task);
  });
}

test('request with enableChunked: the body in ArrayBuffers cut anywhere (inside UTF-8 characters too), then success', async () => {
  const body = 'id:x\nevent:PB_CONNECT\ndata:{"状态":"违规😀"}\n\n'.repeat(5);
  const wx = createFakeWx({ send: answering(200, body) });
  const { chunks, ends } = await chunked(wx);
  assert.equal(Buffer.concat(chunks).toString('utf8'), body);
  assert.ok(chunks.length > 10);
  assert.ok(chunks.some((c) => c.toString('utf8').includes('\ufffd')), 'some cut falls inside a character');
  assert.equal(ends[0][0], 'success');
  assert.equal(ends[0][1].statusCode, 200);
  assert.equal(wx.calls[0].chunked, true);
});

test('request with enableChunked: a stream is handed as it comes; its break is fail, abort stops the chunks', async () => {
  const { PassThrough } = require('node:stream');
  const stream = new PassThrough();
  let cancelled = 0;
  const wx = createFakeWx({ send: async () => ({ status: 200, headers: {}, stream, cancel: () => { cancelled += 1; } }) });
  const broken = chunked(wx);
  stream.write('data:a\n\n');
  setTimeout(() => stream.destroy(new Error('net::ERR_CONNECTION_RESET')), 20);
  const { chunks, ends } = await broken;
  assert.equal(Buffer.concat(chunks).toString(), 'data:a\n\n');
  assert.deepEqual(ends.map(([kind, res]) => [kind, res.errMsg]), [['fail', 'request:fail net::ERR_CONNECTION_RESET']]);

  const endless = new PassThrough();
  const wx2 = createFakeWx({ send: async () => ({ status: 200, headers: {}, stream: endless, cancel: () => { cancelled += 1; } }) });
  const aborted = await chunked(wx2, { onTask: (task) => setTimeout(() => task.abort(), 20) });
  assert.deepEqual(aborted.ends.map(([kind, res]) => [kind, res.errMsg]), [['fail', 'request:fail abort']]);
  assert.equal(cancelled, 2, 'the exchange was cancelled both times');
  const slow = await chunked(createFakeWx({ send: async () => ({ status: 200, headers: {}, stream: new PassThrough() }) }), { timeout: 30 });
  assert.deepEqual(slow.ends.map(([kind, res]) => [kind, res.errMsg]), [['fail', 'request:fail timeout']]);
});
