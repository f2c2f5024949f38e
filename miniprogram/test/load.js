'use strict';
/**
 * Loads ../index.js (and the lib/ files it requires) as the mini-program runs it: in a context of its own
 * (node:vm) holding only the language's built-ins and what the base library also offers (console,
 * setTimeout, clearTimeout; `wx` when given), so no fetch, AbortController, XMLHttpRequest, process or
 * Buffer is in reach. `require` is the mini-program's: a relative path to a file of the module (resolved
 * against the requiring file, each file run once), never a package or a Node module.
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const ROOT = path.join(__dirname, '..');
const SOURCE_PATH = path.join(ROOT, 'index.js');
// Every file of the module, as package.json's "files" ships them: index.js and lib/*.js.
const SOURCE_PATHS = [SOURCE_PATH, ...fs.readdirSync(path.join(ROOT, 'lib')).filter((name) => name.endsWith('.js'))
  .sort().map((name) => path.join(ROOT, 'lib', name))];

function loadClient(globals = {}) {
  const sandbox = Object.assign({ console, setTimeout, clearTimeout }, globals);
  const context = vm.createContext(sandbox);
  const cache = new Map();

  function load(file) {
    if (cache.has(file)) return cache.get(file).exports;
    const module = { exports: {} };
    cache.set(file, module);
    const wrapper = vm.runInContext('(function (module, exports, require) {' + fs.readFileSync(file, 'utf8') + '\n})',
      context, { filename: file });
    wrapper(module, module.exports, function require(request) {
      if (typeof request !== 'string' || !/^\.\.?\//.test(request)) {
        throw new Error(`${path.relative(ROOT, file)}: require(${JSON.stringify(request)}): only a relative path to a file of the module`);
      }
      const target = path.resolve(path.dirname(file), request.endsWith('.js') ? request : request + '.js');
      if (!SOURCE_PATHS.includes(target)) {
        throw new Error(`${path.relative(ROOT, file)}: require(${JSON.stringify(request)}): no such file of the module`);
      }
      return load(target);
    });
    return module.exports;
  }

  return { client: load(SOURCE_PATH), context, require: (relative) => load(path.join(ROOT, relative)) };
}

module.exports = { loadClient, SOURCE_PATH, SOURCE_PATHS };
