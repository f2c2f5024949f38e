// Share codes and referral (issue #29): the inviter's promo code a launch or a page carries.
'use strict';

var isObject = require('./errors.js').isObject;

// What a promo code looks like (the server's are 8 of 0-9A-Z; at most 16 of 0-9A-Za-z): anything else is no code.
var PROMO_CODE_SHAPE = /^[0-9A-Za-z]{1,16}$/;

/**
 * The inviter's promo code carried by a launch or a page (issue #29), or '' when there is none.
 * options: wx.getLaunchOptionsSync() / wx.onShow's (the page's query in options.query; options.scene is then
 * the launch scene's number, 1047 for a scanned mini-program code) or a page's onLoad options (the query
 * itself). The code is the query's `scene` (a mini-program code's scene, URL-encoded) or its
 * `inviter_promo_code` (a shared link's path, e.g. onShareAppMessage's '/pages/index/index?inviter_promo_code=...').
 */
function inviterPromoCode(options) {
  var opts = isObject(options) ? options : {};
  var query = isObject(opts.query) ? opts.query : opts;
  var raw = typeof query.inviter_promo_code === 'string' && query.inviter_promo_code ? query.inviter_promo_code
    : typeof query.scene === 'string' ? query.scene : '';
  var code;
  try {
    code = decodeURIComponent(raw).trim();
  } catch (err) {
    return '';  // a malformed escape: no code
  }
  return PROMO_CODE_SHAPE.test(code) ? code : '';
}

module.exports = { inviterPromoCode: inviterPromoCode };
