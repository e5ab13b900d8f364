// Unit tests of the console's modules that need no browser: AWS error
// parsing for the three protocols, awsQuery fields, CloudTrail events
// (outcome, which association, per-minute counts) and the tags field.
// Run: node --test ci/console/unit.test.mjs (ci/console/run.sh runs it).

import { test } from "node:test";
import assert from "node:assert/strict";
import { errorFrom, roleName, xmlFields, ApiError } from "../../internal/console/static/js/api.js";
import { parseEvent, concerns, perMinute, mergeEvents, SUCCESS } from "../../internal/console/static/js/events.js";
import { parseTags } from "../../internal/console/static/js/pages/forms.js";

const headers = (o) => new Headers(o);

test("errorFrom reads AWS's code and message from each protocol", () => {
  const cases = [
    {
      name: "restJson1: X-Amzn-ErrorType and message",
      status: 409,
      h: { "X-Amzn-ErrorType": "ResourceInUseException:http://internal.amazon.com/coral/com.amazon.eks/", "X-Amzn-RequestId": "r-1" },
      body: '{"message":"Association already exists: a-1"}',
      want: ["ResourceInUseException", "Association already exists: a-1", "r-1"],
    },
    {
      name: "JSON 1.1: __type with a namespace, Message",
      status: 400,
      h: {},
      body: '{"__type":"com.amazonaws.cloudtrail.v20131101#InvalidLookupAttributesException","Message":"Only one lookup attribute."}',
      want: ["InvalidLookupAttributesException", "Only one lookup attribute.", ""],
    },
    {
      name: "awsQuery XML with entities",
      status: 404,
      h: { "x-amzn-requestid": "r-2" },
      body: '<?xml version="1.0"?><ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name &quot;a&amp;b&quot; cannot be found.</Message></Error><RequestId>r-2</RequestId></ErrorResponse>',
      want: ["NoSuchEntity", 'The role with name "a&b" cannot be found.', "r-2"],
    },
    {
      name: "not an AWS error: the status and the text",
      status: 502,
      h: {},
      body: "<html>Bad Gateway</html>",
      want: ["HTTP 502", "<html>Bad Gateway</html>", ""],
    },
  ];
  for (const c of cases) {
    const err = errorFrom(c.status, headers(c.h), c.body);
    assert.ok(err instanceof ApiError, c.name);
    assert.deepEqual([err.code, err.message, err.requestId], c.want, c.name);
    assert.equal(err.status, c.status, c.name);
  }
});

test("roleName and xmlFields", () => {
  assert.equal(roleName("arn:aws:iam::000000000000:role/app"), "app");
  assert.equal(roleName("arn:aws:iam::000000000000:role/team/a/app"), "app");
  assert.equal(roleName("arn:aws:iam::000000000000:user/bob"), "");
  assert.equal(roleName(""), "");
  const xml = "<GetRoleResponse><GetRoleResult><Role><RoleName>app</RoleName><AssumeRolePolicyDocument>%7B%22a%22%3A1%7D</AssumeRolePolicyDocument><Arn>arn:aws:iam::1:role/app</Arn></Role></GetRoleResult></GetRoleResponse>";
  assert.deepEqual(xmlFields(xml, ["RoleName", "Arn", "Missing"]), { RoleName: "app", Arn: "arn:aws:iam::1:role/app" });
});

const event = (detail, extra = {}) => ({
  EventId: detail.eventID,
  EventName: detail.eventName,
  EventTime: Date.parse(detail.eventTime) / 1000,
  EventSource: detail.eventSource,
  CloudTrailEvent: JSON.stringify(detail),
  ...extra,
});

test("parseEvent: outcome from errorCode; concerns finds the association", () => {
  const a = { associationId: "a-0123456789abcdefg", associationArn: "arn:aws:eks:us-east-1:0:podidentityassociation/web/a-0123456789abcdefg", clusterName: "web", namespace: "payments", serviceAccount: "api" };
  const refused = parseEvent(event({
    eventID: "e1", eventName: "AssumeRoleForPodIdentity", eventSource: "eks-auth.amazonaws.com", eventTime: "2026-12-05T07:00:10Z",
    errorCode: "AccessDeniedException", errorMessage: "no statement of the trust policy allowed sts:TagSession",
    requestParameters: { clusterName: "web" }, additionalEventData: { associationId: a.associationId },
  }));
  assert.equal(refused.outcome, "AccessDeniedException");
  assert.equal(refused.time.toISOString(), "2026-12-05T07:00:10.000Z");
  assert.ok(concerns(refused, a));

  const bySubject = parseEvent(event({
    eventID: "e2", eventName: "AssumeRoleForPodIdentity", eventTime: "2026-12-05T07:00:20Z",
    requestParameters: { clusterName: "web" }, responseElements: { subject: { namespace: "payments", serviceAccount: "api" } },
  }));
  assert.equal(bySubject.outcome, SUCCESS);
  assert.ok(concerns(bySubject, a));

  const other = parseEvent(event({
    eventID: "e3", eventName: "AssumeRoleForPodIdentity", eventTime: "2026-12-05T07:00:30Z",
    requestParameters: { clusterName: "web" }, responseElements: { subject: { namespace: "payments", serviceAccount: "worker" } },
  }));
  assert.ok(!concerns(other, a), "another service account of the same namespace");

  const broken = parseEvent({ EventId: "e4", EventName: "X", EventTime: 1796453000, CloudTrailEvent: "{not json" });
  assert.equal(broken.outcome, SUCCESS);
  assert.equal(broken.name, "X");
});

test("perMinute counts by minute and outcome, oldest first, within the window", () => {
  const t = (s) => new Date(`2026-12-05T07:0${s}Z`);
  const evs = [
    { time: t("0:05"), outcome: SUCCESS },
    { time: t("0:59"), outcome: "AccessDeniedException" },
    { time: t("1:00"), outcome: SUCCESS },
    { time: t("1:30"), outcome: SUCCESS },
    { time: t("3:00"), outcome: SUCCESS }, // after the window
  ];
  const b = perMinute(evs, t("0:00"), t("2:10"));
  assert.deepEqual(b.map((x) => x.t.toISOString()), ["2026-12-05T07:00:00.000Z", "2026-12-05T07:01:00.000Z", "2026-12-05T07:02:00.000Z"]);
  assert.deepEqual(b.map((x) => x.counts), [{ Success: 1, AccessDeniedException: 1 }, { Success: 2 }, {}]);
});

test("parseTags reads key=value lines", () => {
  assert.deepEqual(parseTags("team=payments\n\n owner = sre \nflag\nurl=a=b"), { team: "payments", owner: "sre", flag: "", url: "a=b" });
});

test("mergeEvents keeps each event once, newest first", () => {
  const ev = (id, s) => ({ id, time: new Date(s * 1000) });
  const got = mergeEvents([ev("a", 1), ev("c", 3)], [ev("b", 2), ev("c", 3)], []);
  assert.deepEqual(got.map((e) => e.id), ["c", "b", "a"]);
});
