'use strict';
// index.js must run on the mini-program base library: no syntax newer than ES2017 (acorn, pinned in
// package.json, parses it as ES2017) and no Node or browser API (its identifiers, comments and strings aside).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const acorn = require('acorn');
const { SOURCE_PATH } = require('./load');

const SOURCE = fs.readFileSync(SOURCE_PATH, 'utf8');
const ES2017 = { ecmaVersion: 2017, sourceType: 'script' };
// Globals a mini-program does not have (or that only Node has).
const FOREIGN = new Set(['fetch', 'AbortController', 'XMLHttpRequest', 'EventSource', 'WebSocket', 'FormData',
  'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'atob', 'btoa', 'window', 'document', 'localStorage',
  'globalThis', 'require', 'process', 'Buffer', 'setImmediate', 'queueMicrotask', 'structuredClone']);

test('index.js parses as ES2017', () => {
  assert.doesNotThrow(() => acorn.parse(SOURCE, ES2017));
});

test('the check refuses what ES2017 lacks', () => {
  for (const newer of ['({...a})', 'try {} catch {}', 'a?.b', 'a ?? b', 'async function* g() {}', 'class A { #x = 1 }', '1_000']) {
    assert.throws(() => acorn.parse(newer, ES2017), SyntaxError, newer);
  }
});

test('index.js names no Node or browser API', () => {
  const names = [...acorn.tokenizer(SOURCE, ES2017)].filter((t) => t.type === acorn.tokTypes.name).map((t) => t.value);
  assert.ok(names.includes('wx'));
  assert.deepEqual(names.filter((name) => FOREIGN.has(name)), []);
});
