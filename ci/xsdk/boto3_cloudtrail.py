#!/usr/bin/env python3
"""podid's audit trail through boto3's CloudTrail client and the AWS CLI
(`aws cloudtrail lookup-events`): LookupEvents (JSON 1.1 at POST /, signed
for service "cloudtrail") after the flows before it made credential
requests, STS and IAM calls and EKS writes; its lookup attributes, time
range, paginator, the CloudTrailEvent JSON string, and CloudTrail's errors.

Run by ci/xsdk/run.sh after the other flows. Environment:
  PODID_URL       the server's base URL
  PODID_DATA_DIR  its --data-dir (admin-credentials.json is read from it)
Prints "ok    NAME" or "FAIL  NAME: DETAIL" per check, then
"boto3 CloudTrail: N passed, M failed"; exits 1 if any check failed.
"""

import datetime
import json
import os
import subprocess
import sys
import time

from checks import REGION, URL, admin_keys, check, client, expect_error, finish


def main():
    akid, secret = admin_keys()
    ct = client("cloudtrail", akid, secret)
    # The earlier flows' credential requests are in the trail (appends
    # are batched: ask until they are, bounded).
    deadline = time.monotonic() + 20
    while True:
        out = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRoleForPodIdentity"}], MaxResults=50)
        if out["Events"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    events = out["Events"]
    if check("lookup_events by EventName finds credential requests", events, "none"):
        e = events[0]
        rec = json.loads(e["CloudTrailEvent"])
        check("event fields", e["EventName"] == "AssumeRoleForPodIdentity" and e["EventSource"] == "eks-auth.amazonaws.com"
              and isinstance(e["EventTime"], datetime.datetime) and e["ReadOnly"] in ("true", "false"), repr(e))
        check("CloudTrailEvent is the record", rec["eventID"] == e["EventId"] and rec["eventName"] == e["EventName"]
              and "userIdentity" in rec and "requestParameters" in rec, repr(rec))
        check("no token in the record", "token" not in json.dumps(rec.get("requestParameters")).lower(), repr(rec))
    # Paging with the paginator: every event once.
    ids = []
    for page in ct.get_paginator("lookup_events").paginate(PaginationConfig={"PageSize": 5, "MaxItems": 60}):
        ids += [e["EventId"] for e in page["Events"]]
    check("paginator pages without repeats", len(ids) > 5 and len(ids) == len(set(ids)), f"{len(ids)} ids, {len(set(ids))} distinct")
    now = datetime.datetime.now(datetime.timezone.utc)
    out = ct.lookup_events(StartTime=now + datetime.timedelta(hours=1))
    check("a time range in the future is empty", out["Events"] == [], repr(out["Events"][:1]))
    out = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}], MaxResults=10)
    check("ReadOnly=false", out["Events"] and all(e["ReadOnly"] == "false" for e in out["Events"]), repr(out["Events"][:1]))
    expect_error("two lookup attributes", "InvalidLookupAttributesException", 400, ct.lookup_events,
                 LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "a"}, {"AttributeKey": "Username", "AttributeValue": "b"}])
    expect_error("start after end", "InvalidTimeRangeException", 400, ct.lookup_events, StartTime=now, EndTime=now - datetime.timedelta(hours=1))
    expect_error("MaxResults over 50", "InvalidMaxResultsException", 400, ct.lookup_events, MaxResults=51)
    expect_error("a made-up NextToken", "InvalidNextTokenException", 400, ct.lookup_events, NextToken="bm90LWEtdG9rZW4")

    # The AWS CLI.
    env = dict(os.environ, AWS_ACCESS_KEY_ID=akid, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION=REGION)
    r = subprocess.run(["aws", "cloudtrail", "lookup-events", "--endpoint-url", URL, "--max-results", "3",
                        "--lookup-attributes", "AttributeKey=EventSource,AttributeValue=eks-auth.amazonaws.com"],
                       env=env, capture_output=True, text=True, timeout=60)
    if check("aws cloudtrail lookup-events", r.returncode == 0, r.stderr):
        out = json.loads(r.stdout)
        check("aws cloudtrail lookup-events: EventSource filter", out["Events"] and all(e["EventSource"] == "eks-auth.amazonaws.com" for e in out["Events"]),
              r.stdout[:300])
    r = subprocess.run(["aws", "cloudtrail", "lookup-events", "--endpoint-url", URL, "--max-results", "51"],
                       env=env, capture_output=True, text=True, timeout=60)
    check("aws cloudtrail lookup-events: InvalidMaxResultsException", r.returncode != 0 and "InvalidMaxResultsException" in r.stderr, r.stderr)
    return finish("boto3 CloudTrail")


if __name__ == "__main__":
    sys.exit(main())
