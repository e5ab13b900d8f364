// AWS Signature Version 4 for the console's requests, computed with
// WebCrypto (HMAC-SHA256, SHA-256). It runs in the browser and in node
// (>= 20), and signs exactly as aws-sdk-go-v2's signer, which podid uses to
// check signatures: the canonical URI is the path as sent, escaped once
// more; the query is sorted by key, then by value;
// the signed headers are host, x-amz-date, x-amz-security-token and any
// x-amz-* header given, never Content-Type (a browser may rewrite it).

const encoder = new TextEncoder();
const subtle = globalThis.crypto.subtle;

const hex = (buf) =>
  Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

const bytes = (v) => (typeof v === "string" ? encoder.encode(v) : v ?? new Uint8Array());

/** sha256Hex returns the lowercase hex SHA-256 of a string or bytes. */
export async function sha256Hex(v) {
  return hex(await subtle.digest("SHA-256", bytes(v)));
}

async function hmac(key, data) {
  const k = await subtle.importKey("raw", bytes(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, bytes(data)));
}

/**
 * encode is RFC 3986 percent-encoding of every byte but A-Z a-z 0-9 - _ . ~
 * (what SigV4 and aws-sdk-go-v2's query encoding use).
 */
export function encode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

// escapePath escapes an already-encoded path once more, keeping "/" (the
// SDK's canonical URI for every service but S3).
function escapePath(path) {
  let out = "";
  for (const b of encoder.encode(path || "/")) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.~/]/.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/**
 * queryString turns [[key, value], ...] into the query as sent; the same
 * encoding is the canonical one once sorted.
 */
export function queryString(pairs) {
  return (pairs ?? []).map(([k, v]) => encode(k) + "=" + encode(v ?? "")).join("&");
}

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

function canonicalQuery(pairs) {
  const sorted = [...(pairs ?? [])].map(([k, v]) => [k, v ?? ""]);
  sorted.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]));
  return queryString(sorted);
}

// amzDate formats a Date as 20060102T150405Z.
export function amzDate(d) {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * sign returns the headers to add to a request so that it carries a SigV4
 * signature: Authorization, X-Amz-Date and, with a session token,
 * X-Amz-Security-Token.
 *
 * req: { method, host, path (as sent, already percent-encoded),
 *        query ([[key, value], ...], not encoded), headers ({name: value},
 *        sent as given; x-amz-* ones are signed), body (string or bytes) }
 * credentials: { accessKeyId, secretAccessKey, sessionToken? }
 * scope: { region, service, date (a Date; now when absent) }
 */
export async function sign(req, credentials, scope) {
  const when = scope.date ?? new Date();
  const stamp = amzDate(when);
  const day = stamp.slice(0, 8);
  const added = { "X-Amz-Date": stamp };
  if (credentials.sessionToken) added["X-Amz-Security-Token"] = credentials.sessionToken;

  const signed = new Map([["host", req.host]]);
  for (const [name, value] of Object.entries({ ...req.headers, ...added })) {
    const n = name.toLowerCase();
    if (n.startsWith("x-amz-")) signed.set(n, String(value).trim().replace(/ +/g, " "));
  }
  const names = [...signed.keys()].sort();
  const signedHeaders = names.join(";");
  const canonical = [
    req.method.toUpperCase(),
    escapePath(req.path),
    canonicalQuery(req.query),
    names.map((n) => `${n}:${signed.get(n)}\n`).join(""),
    signedHeaders,
    await sha256Hex(req.body ?? ""),
  ].join("\n");

  const credScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", stamp, credScope, await sha256Hex(canonical)].join("\n");
  let key = await hmac("AWS4" + credentials.secretAccessKey, day);
  for (const part of [scope.region, scope.service, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));

  added.Authorization =
    `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${credScope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return added;
}
