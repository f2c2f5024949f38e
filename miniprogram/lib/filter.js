/** PocketBase's filter with {:name} placeholders, as the JS SDK's pb.filter(). */
'use strict';

/** A filter literal: strings (Dates, objects as JSON) single-quoted and escaped, numbers and booleans bare. */
function filterLiteral(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  var text = typeof value === 'string' ? value
    : Object.prototype.toString.call(value) === '[object Date]' ? value.toISOString().replace('T', ' ')
      : JSON.stringify(value);
  return "'" + text.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

/**
 * PocketBase's filter with {:name} placeholders replaced by safely quoted values, as the JS SDK's
 * pb.filter() does, with two differences that make it safe for any string: a backslash is escaped too
 * (PocketBase 0.40 reads \\ as one backslash, so a value ending in one would escape its closing quote),
 * and the expression is read once, so a value that contains "{:other}" is never substituted again.
 */
function filter(expr, params) {
  var values = params || {};
  return String(expr).replace(/\{:([^{}]+)\}/g, function (placeholder, name) {
    return Object.prototype.hasOwnProperty.call(values, name) ? filterLiteral(values[name]) : placeholder;
  });
}

module.exports = { filter: filter };
