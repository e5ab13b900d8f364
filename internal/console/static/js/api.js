// The console's clients for podid's public APIs, every request signed with
// SigV4 in the browser (sigv4.js) with the signed-in credentials: EKS
// (restJson1), STS and IAM (awsQuery), CloudTrail LookupEvents (JSON 1.1)
// and podid's admin API. A failed call throws an ApiError carrying AWS's
// error code and message as the protocol spells them.

import { sign, queryString, encode } from "./sigv4.js";

/** EXPLAIN_PATH is the admin endpoint that explains a credential decision. */
export const EXPLAIN_PATH = "/podid/v1/explain";
/** ADMIN_SERVICE is the signing name used for podid's admin API. */
export const ADMIN_SERVICE = "podid";
const CLOUDTRAIL_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";

/** ApiError is an AWS error response: code, message, HTTP status, request ID. */
export class ApiError extends Error {
  constructor({ code, message, status, requestId }) {
    super(message || code);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.requestId = requestId || "";
  }
}

const unescapeXML = (s) =>
  s.replace(/&(lt|gt|quot|apos|amp|#x?[0-9a-fA-F]+);/g, (m, e) =>
    ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e] ??
    String.fromCodePoint(e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
  );

// shortCode keeps the code of "aws.protocoltests#Code" and "Code:http://…".
const shortCode = (c) => (c || "").split(":")[0].split("#").pop().trim();

function parseJSON(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * errorFrom reads AWS's error out of a failed response, in any of the
 * three protocols: restJson1 (X-Amzn-ErrorType and "message"), JSON 1.1
 * ("__type") and awsQuery (<Error><Code> and <Message>).
 */
export function errorFrom(status, headers, text) {
  const requestId = headers.get("x-amzn-requestid") || headers.get("x-amz-request-id") || "";
  const body = parseJSON(text);
  let code = shortCode(headers.get("x-amzn-errortype"));
  let message = "";
  if (body && typeof body === "object") {
    code = code || shortCode(body.__type || body.code || body.Code);
    message = body.message ?? body.Message ?? "";
  } else if (/<Error>/.test(text)) {
    code = code || unescapeXML((text.match(/<Code>([^<]*)<\/Code>/) || [])[1] || "");
    message = unescapeXML((text.match(/<Message>([^<]*)<\/Message>/) || [])[1] || "");
  }
  if (!code) {
    code = `HTTP ${status}`;
    message = message || text.trim().slice(0, 200);
  }
  return new ApiError({ code, message, status, requestId });
}

// roleName is the last segment of a role ARN (paths included in the ARN).
export function roleName(arn) {
  const res = (arn || "").split(":").slice(5).join(":");
  return res.startsWith("role/") ? res.split("/").pop() : "";
}

/** Api calls podid's APIs as the holder of creds. */
export class Api {
  /**
   * creds: { accessKeyId, secretAccessKey, sessionToken?, region }
   * origin: podid's URL (the page's own origin by default).
   */
  constructor(creds, origin = globalThis.location?.origin) {
    this.creds = creds;
    this.origin = origin;
  }

  /** send signs and sends one request and returns the Response. */
  async send(service, { method = "GET", path, query = [], headers = {}, body }) {
    const host = new URL(this.origin).host;
    const auth = await sign({ method, host, path, query, headers, body }, this.creds, {
      region: this.creds.region,
      service,
    });
    const url = this.origin + path + (query.length ? "?" + queryString(query) : "");
    return fetch(url, { method, headers: { ...headers, ...auth }, body, credentials: "omit", cache: "no-store" });
  }

  async #call(service, req) {
    const res = await this.send(service, req);
    const text = await res.text();
    if (!res.ok) throw errorFrom(res.status, res.headers, text);
    return { res, text };
  }

  /** rest calls a restJson1 operation and returns the decoded body. */
  async rest(service, method, path, { query, body } = {}) {
    const headers = body === undefined ? {} : { "Content-Type": "application/json" };
    const { text } = await this.#call(service, {
      method,
      path,
      query,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return text ? JSON.parse(text) : {};
  }

  /** awsQuery calls an awsQuery operation and returns the XML text. */
  async awsQuery(service, version, action, params = {}) {
    const pairs = [["Action", action], ["Version", version], ...Object.entries(params)];
    const { text } = await this.#call(service, {
      method: "POST",
      path: "/",
      headers: { "Content-Type": "application/x-www-form-urlencoded; charset=utf-8" },
      body: queryString(pairs),
    });
    return text;
  }

  /** json11 calls a JSON 1.1 operation (X-Amz-Target) and returns the decoded body. */
  async json11(service, target, input) {
    const { text } = await this.#call(service, {
      method: "POST",
      path: "/",
      headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target },
      body: JSON.stringify(input),
    });
    return text ? JSON.parse(text) : {};
  }

  // ---- STS
  async getCallerIdentity() {
    const xml = await this.awsQuery("sts", "2011-06-15", "GetCallerIdentity");
    return xmlFields(xml, ["Arn", "Account", "UserId"]);
  }

  // ---- EKS
  listClusters(nextToken) {
    const q = [["maxResults", "100"]];
    if (nextToken) q.push(["nextToken", nextToken]);
    return this.rest("eks", "GET", "/clusters", { query: q });
  }
  async describeCluster(name) {
    return (await this.rest("eks", "GET", `/clusters/${encode(name)}`)).cluster;
  }
  createCluster(input) {
    return this.rest("eks", "POST", "/clusters", { body: input });
  }
  deleteCluster(name) {
    return this.rest("eks", "DELETE", `/clusters/${encode(name)}`);
  }
  listAssociations(cluster, { namespace, serviceAccount, nextToken, maxResults = 50 } = {}) {
    const q = [["maxResults", String(maxResults)]];
    if (namespace) q.push(["namespace", namespace]);
    if (serviceAccount) q.push(["serviceAccount", serviceAccount]);
    if (nextToken) q.push(["nextToken", nextToken]);
    return this.rest("eks", "GET", `/clusters/${encode(cluster)}/pod-identity-associations`, { query: q });
  }
  async describeAssociation(cluster, id) {
    const out = await this.rest("eks", "GET", `/clusters/${encode(cluster)}/pod-identity-associations/${encode(id)}`);
    return out.association;
  }
  async createAssociation(cluster, input) {
    const out = await this.rest("eks", "POST", `/clusters/${encode(cluster)}/pod-identity-associations`, { body: input });
    return out.association;
  }
  async updateAssociation(cluster, id, input) {
    const path = `/clusters/${encode(cluster)}/pod-identity-associations/${encode(id)}`;
    return (await this.rest("eks", "POST", path, { body: input })).association;
  }
  async deleteAssociation(cluster, id) {
    const path = `/clusters/${encode(cluster)}/pod-identity-associations/${encode(id)}`;
    return (await this.rest("eks", "DELETE", path)).association;
  }
  async listTags(arn) {
    return (await this.rest("eks", "GET", `/tags/${encode(arn)}`)).tags ?? {};
  }
  tagResource(arn, tags) {
    return this.rest("eks", "POST", `/tags/${encode(arn)}`, { body: { tags } });
  }
  untagResource(arn, keys) {
    return this.rest("eks", "DELETE", `/tags/${encode(arn)}`, { query: keys.map((k) => ["tagKeys", k]) });
  }

  /**
   * countAssociations pages through a cluster's associations, stopping
   * once it has counted limit (a page of clusters stays quick to show
   * when each has thousands); more says there are more.
   */
  async countAssociations(cluster, limit = 1000) {
    let n = 0;
    let token;
    do {
      const out = await this.listAssociations(cluster, { nextToken: token, maxResults: 100 });
      n += (out.associations ?? []).length;
      token = out.nextToken;
    } while (token && n < limit);
    return { count: n, more: Boolean(token) };
  }

  // ---- IAM
  async getRole(name) {
    const xml = await this.awsQuery("iam", "2010-05-08", "GetRole", { RoleName: name });
    const role = xmlFields(xml, ["RoleName", "Arn", "RoleId", "Path", "CreateDate", "Description", "AssumeRolePolicyDocument"]);
    if (role.AssumeRolePolicyDocument) role.AssumeRolePolicyDocument = decodeURIComponent(role.AssumeRolePolicyDocument);
    return role;
  }
  updateAssumeRolePolicy(name, document) {
    return this.awsQuery("iam", "2010-05-08", "UpdateAssumeRolePolicy", { RoleName: name, PolicyDocument: document });
  }

  // ---- CloudTrail
  /**
   * lookupEvents: attribute {key, value} (CloudTrail takes one), start and
   * end Dates, maxResults (1-50), nextToken.
   */
  lookupEvents({ attribute, start, end, maxResults = 50, nextToken } = {}) {
    const input = { MaxResults: maxResults };
    if (attribute?.value) input.LookupAttributes = [{ AttributeKey: attribute.key, AttributeValue: attribute.value }];
    if (start) input.StartTime = start.getTime() / 1000;
    if (end) input.EndTime = end.getTime() / 1000;
    if (nextToken) input.NextToken = nextToken;
    return this.json11("cloudtrail", CLOUDTRAIL_TARGET + "LookupEvents", input);
  }

  // ---- podid's admin API
  issuer(cluster) {
    return this.rest(ADMIN_SERVICE, "GET", `/podid/v1/clusters/${encode(cluster)}/issuer`);
  }
  explain(input) {
    return this.rest(ADMIN_SERVICE, "POST", EXPLAIN_PATH, { body: input });
  }
  mintToken(cluster, input) {
    return this.rest(ADMIN_SERVICE, "POST", `/podid/v1/clusters/${encode(cluster)}/tokens`, { body: input });
  }

  /** publicKeys reads a podid-issued cluster's JWKS (public, unsigned). */
  async publicKeys(cluster) {
    const res = await fetch(`${this.origin}/clusters-oidc/${encode(cluster)}/keys`, { credentials: "omit", cache: "no-store" });
    const text = await res.text();
    if (!res.ok) throw errorFrom(res.status, res.headers, text);
    return JSON.parse(text).keys ?? [];
  }
}

/**
 * xmlFields returns the text of the first element of each name in an
 * awsQuery response (names are unique within the responses read here).
 */
export function xmlFields(xml, names) {
  const out = {};
  for (const n of names) {
    const m = xml.match(new RegExp(`<${n}>([^<]*)</${n}>`));
    if (m) out[n] = unescapeXML(m[1]);
  }
  return out;
}
