/// <reference path="../../pb_data/types.d.ts" />

// SUPERUSER_ALLOWED_IPS: a comma-separated list of addresses and CIDR networks, IPv4 or IPv6
// (e.g. "203.0.113.7, 10.8.0.0/16, 2001:db8::/32"). Loopback is always allowed: the sidecar and
// the operator's tools on the machine itself reach PocketBase directly.

// The address as an array of bytes (4 or 16), or null when it is not an IP address.
function toBytes(text) {
  text = String(text).trim();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split(".").map(Number);
    return parts.every((n) => n <= 255) ? parts : null;
  }
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.indexOf(":") < 0) {
    return null;
  }
  let tail = [];
  const v4 = text.match(/^(.*:)(\d{1,3}(\.\d{1,3}){3})$/); // ::ffff:1.2.3.4
  if (v4) {
    tail = toBytes(v4[2]);
    if (!tail) return null;
    text = v4[1].endsWith("::") ? v4[1] : v4[1].slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - tail.length / 2 - head.length - rest.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const bytes = [];
  for (const group of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    const value = parseInt(group, 16);
    bytes.push(value >> 8, value & 255);
  }
  return [...bytes, ...tail];
}

// [{bytes, bits}] of the list; throws on an entry that is not an address or network.
function parse(list) {
  return String(list || "").split(",").map((entry) => entry.trim()).filter((entry) => entry).map((entry) => {
    const [address, prefix] = entry.split("/");
    const bytes = toBytes(address);
    const bits = prefix === undefined ? (bytes ? bytes.length * 8 : 0) : Number(prefix);
    if (!bytes || !/^\d*$/.test(prefix || "") || bits > bytes.length * 8) {
      throw new Error(`SUPERUSER_ALLOWED_IPS: ${JSON.stringify(entry)} is not an IP address or CIDR network`);
    }
    return { bytes, bits };
  });
}

function inNetwork(bytes, network) {
  if (bytes.length !== network.bytes.length) return false;
  for (let bit = 0; bit < network.bits; bit++) {
    const mask = 128 >> (bit % 8);
    if ((bytes[bit >> 3] & mask) !== (network.bytes[bit >> 3] & mask)) return false;
  }
  return true;
}

const LOOPBACK = parse("127.0.0.1, ::1");

// The bytes of ip, an IPv4-mapped IPv6 address as its IPv4 address; null when ip is not an address.
function normalized(ip) {
  const bytes = toBytes(ip);
  if (bytes && bytes.length === 16 && bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) {
    return bytes.slice(12);
  }
  return bytes;
}

function isLoopback(ip) {
  const bytes = normalized(ip);
  return !!bytes && LOOPBACK.some((network) => inNetwork(bytes, network));
}

// Whether ip may act as a superuser under the list (an empty list allows everyone).
function allowed(list, ip) {
  const networks = parse(list);
  if (networks.length === 0) return true;
  const bytes = normalized(ip);
  return !!bytes && [...LOOPBACK, ...networks].some((network) => inNetwork(bytes, network));
}

module.exports = { allowed, isLoopback, parse };
