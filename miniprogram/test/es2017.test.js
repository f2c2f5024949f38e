'use strict';
// Every file of the module (index.js and lib/*.js) must run on the mini-program base library: no syntax
// newer than ES2017 (acorn, pinned in package.json, parses it as ES2017) and no Node or browser API (its
// identifiers, comments and strings aside); require only as the mini-program has it: a relative path to a
// file of the module.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const acorn = require('acorn');
const { SOURCE_PATHS } = require('./load');

const ROOT = path.join(__dirname, '..');
const SOURCES = SOURCE_PATHS.map((file) => [path.relative(ROOT, file), fs.readFileSync(file, 'utf8')]);
const ES2017 = { ecmaVersion: 2017, sourceType: 'script' };
// Globals a mini-program does not have (or that only Node has). require is the mini-program's own (below).
const FOREIGN = new Set(['fetch', 'AbortController', 'XMLHttpRequest', 'EventSource', 'WebSocket', 'FormData',
  'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'atob', 'btoa', 'window', 'document', 'localStorage',
  'globalThis', 'process', 'Buffer', 'setImmediate', 'queueMicrotask', 'structuredClone']);

test('the module is index.js and its lib/ files', () => {
  const names = SOURCES.map(([name]) => name);
  assert.equal(names[0], 'index.js');
  for (const part of ['errors', 'transport', 'session', 'records', 'filter', 'utf8', 'eventstream', 'realtime',
    'subscribe', 'share']) {
    assert.ok(names.includes(path.join('lib', part + '.js')), part);
  }
});

for (const [name, source] of SOURCES) {
  test(`${name} parses as ES2017`, () => {
    assert.doesNotThrow(() => acorn.parse(source, ES2017));
  });

  test(`${name} names no Node or browser API`, () => {
    const names = [...acorn.tokenizer(source, ES2017)].filter((t) => t.type === acorn.tokTypes.name).map((t) => t.value);
    assert.deepEqual(names.filter((n) => FOREIGN.has(n)), []);
  });

  test(`${name} requires only files of the module, by a relative path`, () => {
    const tokens = [...acorn.tokenizer(source, ES2017)];
    tokens.forEach((token, i) => {
      if (token.type !== acorn.tokTypes.name || token.value !== 'require') return;
      const [open, literal, close] = tokens.slice(i + 1, i + 4);
      assert.equal(open.type, acorn.tokTypes.parenL, name);
      assert.equal(literal.type, acorn.tokTypes.string, name);
      assert.equal(close.type, acorn.tokTypes.parenR, name);
      assert.match(literal.value, /^\.\.?\/[\w/.]+\.js$/, name);
      assert.ok(SOURCE_PATHS.includes(path.resolve(path.dirname(path.join(ROOT, name)), literal.value)), literal.value);
    });
  });

  test(`${name} is one concern of at most ~300 lines`, () => {
    assert.ok(source.split('\n').length <= 300, name);
  });
}

test('the module names wx (its one platform)', () => {
  const names = SOURCES.flatMap(([, source]) => [...acorn.tokenizer(source, ES2017)])
    .filter((t) => t.type === acorn.tokTypes.name).map((t) => t.value);
  assert.ok(names.includes('wx'));
});

test('the check refuses what ES2017 lacks', () => {
  for (const newer of ['({...a})', 'try {} catch {}', 'a?.b', 'a ?? b', 'async function* g() {}', 'class A { #x = 1 }', '1_000']) {
    assert.throws(() => acorn.parse(newer, ES2017), SyntaxError, newer);
  }
});
