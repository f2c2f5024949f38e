'use strict';

var createUtf8Decoder = require('./utf8.js').createUtf8Decoder;

/**
 * The event-stream parser of the HTML standard (html.spec.whatwg.org, "Parsing an event stream"), fed
 * chunks as they come: push(chunk: ArrayBuffer | Uint8Array | string) returns the events completed by
 * it, each {type, data, lastEventId} as an EventSource's MessageEvent has them; how the stream was cut
 * never changes the events. end() drops an unfinished event, as an EventSource does.
 */
function createEventStreamParser() {
  var decoder = createUtf8Decoder();
  var line = '';
  var started = false;
  var afterCR = false;
  var type = '';
  var data = '';
  var lastEventId = '';

  function field(text) {
    if (text === '') {
      // A blank line dispatches the event; one without data is dropped.
      var event = data ? { type: type || 'message', data: data.slice(0, -1), lastEventId: lastEventId } : null;
      type = '';
      data = '';
      return event;
    }
    if (text.charAt(0) === ':') return null;
    var colon = text.indexOf(':');
    var name = colon < 0 ? text : text.slice(0, colon);
    var value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.charAt(0) === ' ') value = value.slice(1);
    if (name === 'event') type = value;
    else if (name === 'data') data += value + '\n';
    else if (name === 'id' && value.indexOf('\u0000') < 0) lastEventId = value;
    return null;
  }

  function feed(text) {
    var events = [];
    if (!text) return events;
    if (!started) {
      started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR that ended the last chunk and an LF that starts this one are one line break.
    if (afterCR && text.charAt(0) === '\n') text = text.slice(1);
    afterCR = false;
    var breaks = /\r\n|\r|\n/g;
    var start = 0;
    var found;
    while ((found = breaks.exec(text))) {
      var event = field(line + text.slice(start, found.index));
      line = '';
      start = breaks.lastIndex;
      if (found[0] === '\r' && start === text.length) afterCR = true;
      if (event) events.push(event);
    }
    line += text.slice(start);
    return events;
  }

  return {
    push: function (chunk) {
      var text = typeof chunk === 'string' ? chunk
        : decoder.push(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk));
      return feed(text);
    },
    end: function () {
      feed(decoder.end());
      line = '';
      type = '';
      data = '';
      return [];
    }
  };
}

module.exports = { createEventStreamParser: createEventStreamParser };
