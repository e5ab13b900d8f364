"""Presigns STS GetCallerIdentity with boto3 (botocore's SigV4 query
signer), as EKS token generators built on boto3 do, and prints two URLs:
one valid for 900 seconds, then one valid for 60 seconds that signs the
x-k8s-aws-id header (cluster CLUSTER) as `aws eks get-token` does.

Usage: python3 boto3_presign.py ENDPOINT CLUSTER
Credentials come from the environment.
"""
import sys

import boto3

endpoint, cluster = sys.argv[1], sys.argv[2]


def client():
    return boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint)


print(client().generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=900, HttpMethod="GET"))

sts = client()


def add_header(request, **kwargs):
    request.headers["x-k8s-aws-id"] = cluster


sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_header)
print(sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET"))
