"""Shared check helpers for the boto3 flow scripts in ci/xsdk.

Each script prints one "ok    NAME" or "FAIL  NAME: DETAIL" line a check
(ci/xsdk/run.sh counts them) and ends with finish(LABEL), which prints
"LABEL: N passed, M failed" and returns the script's exit status.

Environment (set by ci/xsdk/run.sh):
  PODID_URL       the podid serve endpoint
  PODID_DATA_DIR  its --data-dir (admin-credentials.json is read from it)
"""

import datetime
import json
import os
import re
import traceback

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["PODID_URL"]
DATA_DIR = os.environ["PODID_DATA_DIR"]
REGION = "us-east-1"
ACCOUNT = "000000000000"

# Bounded waits: every call times out, and a failed call is retried once at most.
CONFIG = Config(region_name=REGION, connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 2})

_counts = {"passed": 0, "failed": 0}


def ok(name):
    _counts["passed"] += 1
    print(f"ok    {name}", flush=True)


def fail(name, detail):
    _counts["failed"] += 1
    print(f"FAIL  {name}: {detail}", flush=True)


def check(name, cond, detail=""):
    if cond:
        ok(name)
    else:
        fail(name, detail)
    return cond


def expect_error(name, code, status, fn, /, *args, message_re=None, **kwargs):
    """The call must fail with a ClientError whose code and HTTP status are
    code and status (and whose message matches message_re); returns the error."""
    try:
        out = fn(*args, **kwargs)
    except ClientError as e:
        got_code = e.response.get("Error", {}).get("Code")
        got_status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        msg = e.response.get("Error", {}).get("Message", "")
        if got_code != code or got_status != status:
            fail(name, f"got {got_code} {got_status} ({msg!r}), want {code} {status}")
        elif message_re and not re.search(message_re, msg):
            fail(name, f"message {msg!r} does not match {message_re!r}")
        else:
            ok(name)
        return e
    out = dict(out or {})
    out.pop("ResponseMetadata", None)
    fail(name, f"succeeded, want {code}: {out!r}")
    return None


def admin_keys():
    """The admin access key ID and secret podid serve wrote to its data directory."""
    with open(os.path.join(DATA_DIR, "admin-credentials.json")) as f:
        k = json.load(f)
    return k["accessKeyId"], k["secretAccessKey"]


def client(service, akid, secret, token=None, region=REGION):
    return boto3.session.Session().client(service, endpoint_url=URL, region_name=region, aws_access_key_id=akid,
                                          aws_secret_access_key=secret, aws_session_token=token, config=CONFIG)


def is_dt(v):
    return isinstance(v, datetime.datetime) and v.tzinfo is not None


def run_steps(steps):
    """Runs each (name, fn) step; a step that raises is one failure and the
    later steps still run."""
    for name, fn in steps:
        try:
            fn()
        except Exception as e:
            fail(f"{name} flow raised", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")


def finish(label):
    """Prints the summary line and returns the exit status (1 if any check failed)."""
    print(f"{label} (botocore {botocore.__version__}): {_counts['passed']} passed, {_counts['failed']} failed", flush=True)
    return 1 if _counts["failed"] else 0
