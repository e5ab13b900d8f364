"""The end-to-end tests' second workload: an unmodified boto3 program.

Its credentials come from botocore's default chain (the container provider,
given AWS_CONTAINER_CREDENTIALS_FULL_URI and
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE); it calls STS GetCallerIdentity
(AWS_ENDPOINT_URL_STS points it at podid) and prints one JSON object, as
testdata/child does. On failure it prints the error on stderr and exits 1.
"""
import json
import sys

import boto3


def main():
    session = boto3.session.Session()
    resolved = session.get_credentials()
    if resolved is None:
        sys.exit("no credentials found")
    creds = resolved.get_frozen_credentials()
    ident = session.client("sts").get_caller_identity()
    print(json.dumps({
        "arn": ident["Arn"],
        "account": ident["Account"],
        "userId": ident["UserId"],
        "accessKeyId": creds.access_key,
        "sessionToken": creds.token,
        "source": resolved.method,
    }))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the test reads the message
        sys.exit(f"{type(e).__name__}: {e}")
