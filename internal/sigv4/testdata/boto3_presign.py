"""Presigns STS GetCallerIdentity with boto3 (botocore's SigV4 query
signer), as EKS token generators built on boto3 do, and prints the URL.

Usage: python3 boto3_presign.py ENDPOINT EXPIRES [CLUSTER]
Credentials come from the environment. With CLUSTER, the x-k8s-aws-id
header is signed as `aws eks get-token` signs it.
"""
import sys

import boto3

endpoint, expires = sys.argv[1], int(sys.argv[2])
cluster = sys.argv[3] if len(sys.argv) > 3 else None
sts = boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint)
if cluster:
    def add_header(request, **kwargs):
        request.headers["x-k8s-aws-id"] = cluster
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_header)
print(sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=expires, HttpMethod="GET"))
