// Reading CloudTrail events (LookupEvents) for the console: each event's
// outcome, which association it concerns, and per-minute counts.

/** CREDENTIAL_EVENT is the event name of a credential request (EKS Auth). */
export const CREDENTIAL_EVENT = "AssumeRoleForPodIdentity";
export const SUCCESS = "Success";

/** parseEvent flattens a LookupEvents item and its CloudTrailEvent JSON. */
export function parseEvent(e) {
  let detail = {};
  try {
    detail = JSON.parse(e.CloudTrailEvent || "{}") ?? {};
  } catch {
    detail = {};
  }
  const t = typeof e.EventTime === "number" ? new Date(e.EventTime * 1000) : new Date(e.EventTime ?? detail.eventTime);
  return {
    raw: e,
    detail,
    id: e.EventId ?? detail.eventID,
    time: t,
    name: e.EventName ?? detail.eventName,
    source: e.EventSource ?? detail.eventSource,
    user: e.Username ?? detail.userIdentity?.arn ?? "",
    readOnly: String(e.ReadOnly ?? detail.readOnly) === "true",
    resources: (e.Resources ?? []).map((r) => r.ResourceName).filter(Boolean),
    errorCode: detail.errorCode ?? "",
    errorMessage: detail.errorMessage ?? "",
    outcome: detail.errorCode || SUCCESS,
  };
}

// strings collects every string value in a JSON value (bounded depth).
function strings(v, out = new Set(), depth = 0) {
  if (depth > 8 || v === null || v === undefined) return out;
  if (typeof v === "string") out.add(v);
  else if (typeof v === "object") for (const x of Object.values(v)) strings(x, out, depth + 1);
  return out;
}

/**
 * concerns reports whether an event is about an association: it names the
 * association's ID or ARN, or its cluster, namespace and service account.
 */
export function concerns(ev, a) {
  const vals = strings([ev.detail, ev.raw.Resources]);
  if (vals.has(a.associationId) || vals.has(a.associationArn)) return true;
  const sub = `system:serviceaccount:${a.namespace}:${a.serviceAccount}`;
  return vals.has(a.clusterName) && (vals.has(sub) || (vals.has(a.namespace) && vals.has(a.serviceAccount)));
}

/**
 * lookupAll pages through LookupEvents (at most maxPages pages of 50) and
 * returns the parsed events, newest first.
 */
export async function lookupAll(api, query, maxPages = 10) {
  const out = [];
  let token;
  for (let i = 0; i < maxPages; i++) {
    const page = await api.lookupEvents({ ...query, nextToken: token });
    out.push(...(page.Events ?? []).map(parseEvent));
    token = page.NextToken;
    if (!token) break;
  }
  return { events: out, truncated: Boolean(token) };
}

/**
 * perMinute counts events by minute and outcome from start to end:
 * [{ t: Date (minute start), counts: {outcome: n} }], oldest first.
 */
export function perMinute(events, start, end) {
  const m0 = Math.floor(start.getTime() / 60000);
  const m1 = Math.floor(end.getTime() / 60000);
  const buckets = [];
  for (let m = m0; m <= m1; m++) buckets.push({ t: new Date(m * 60000), counts: {} });
  for (const ev of events) {
    const i = Math.floor(ev.time.getTime() / 60000) - m0;
    if (i < 0 || i >= buckets.length) continue;
    buckets[i].counts[ev.outcome] = (buckets[i].counts[ev.outcome] ?? 0) + 1;
  }
  return buckets;
}

/** mergeEvents joins lists of parsed events: each event once, newest first. */
export function mergeEvents(...lists) {
  const seen = new Map();
  for (const ev of lists.flat()) if (!seen.has(ev.id)) seen.set(ev.id, ev);
  return [...seen.values()].sort((a, b) => b.time - a.time);
}
