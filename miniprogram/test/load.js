'use strict';
/**
 * Loads ../index.js as the mini-program runs it: in a context of its own (node:vm) holding only the
 * language's built-ins and what the base library also offers (console, setTimeout, clearTimeout; `wx`
 * when given), so no fetch, AbortController, XMLHttpRequest, require, process or Buffer is in reach.
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SOURCE_PATH = path.join(__dirname, '..', 'index.js');

function loadClient(globals = {}) {
  const sandbox = Object.assign({ console, setTimeout, clearTimeout }, globals);
  const context = vm.createContext(sandbox);
  const module = { exports: {} };
  const wrapper = vm.runInContext('(function (module, exports) {' + fs.readFileSync(SOURCE_PATH, 'utf8') + '\n})',
    context, { filename: SOURCE_PATH });
  wrapper(module, module.exports);
  return { client: module.exports, context };
}

module.exports = { loadClient, SOURCE_PATH };
