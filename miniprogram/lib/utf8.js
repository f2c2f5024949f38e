'use strict';

/**
 * An incremental UTF-8 decoder (no TextDecoder is guaranteed in the base library): push(bytes) returns the
 * text of the characters completed so far, a character cut between chunks waits for its last byte;
 * invalid bytes become U+FFFD as in the WHATWG decoder that EventSource uses (encoding.spec.whatwg.org).
 */
function createUtf8Decoder() {
  var codePoint = 0;
  var needed = 0;
  var seen = 0;
  var lower = 0x80;
  var upper = 0xbf;

  function push(bytes) {
    var out = '';
    for (var i = 0; i < bytes.length; i++) {
      var byte = bytes[i];
      if (needed === 0) {
        if (byte <= 0x7f) {
          out += String.fromCharCode(byte);
        } else if (byte >= 0xc2 && byte <= 0xdf) {
          needed = 1;
          codePoint = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) lower = 0xa0;
          if (byte === 0xed) upper = 0x9f;
          needed = 2;
          codePoint = byte & 0x0f;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) lower = 0x90;
          if (byte === 0xf4) upper = 0x8f;
          needed = 3;
          codePoint = byte & 0x07;
        } else {
          out += '\ufffd';
        }
        continue;
      }
      if (byte < lower || byte > upper) {
        // The sequence broke off: one U+FFFD for it, and this byte starts afresh.
        codePoint = needed = seen = 0;
        lower = 0x80;
        upper = 0xbf;
        out += '\ufffd';
        i -= 1;
        continue;
      }
      lower = 0x80;
      upper = 0xbf;
      codePoint = (codePoint << 6) | (byte & 0x3f);
      seen += 1;
      if (seen === needed) {
        out += String.fromCodePoint(codePoint);
        codePoint = needed = seen = 0;
      }
    }
    return out;
  }

  /** The end of the stream: a character left unfinished is one U+FFFD. */
  function end() {
    var out = needed ? '\ufffd' : '';
    codePoint = needed = seen = 0;
    return out;
  }

  return { push: push, end: end };
}

module.exports = { createUtf8Decoder: createUtf8Decoder };
