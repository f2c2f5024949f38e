'use strict';
/** A client under test: the module loaded as the mini-program runs it, the fake wx, the fake backend. */
const { loadClient } = require('./load');
const { createFakeWx } = require('./fake-wx');
const { createBackend } = require('./fake-backend');

const BASE_URL = 'https://api.test/pb';

function setup({ codes, files = {}, storage, timeout, loginError } = {}) {
  const backend = createBackend();
  const wx = createFakeWx({ send: backend.send, codes, loginError, readFile: (p) => {
    if (!(p in files)) throw new Error('no such file');
    return files[p];
  } });
  Object.entries(storage || {}).forEach(([k, v]) => wx.setStorageSync(k, v));
  const { client: mod, context } = loadClient();
  const client = mod.createClient({ baseUrl: BASE_URL, wx, timeout });
  return { backend, wx, mod, context, client, again: () => mod.createClient({ baseUrl: BASE_URL, wx, timeout }) };
}

/** The rejection of promise (fails the test when it resolves). */
async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** value as plain data of this realm (the module runs in a context of its own: its objects have other prototypes). */
function plain(value) {
  return JSON.parse(JSON.stringify(value));
}

module.exports = { setup, rejection, plain, BASE_URL };
