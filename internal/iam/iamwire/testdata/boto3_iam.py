#!/usr/bin/env python3
"""Reads iamwire's encodings with boto3's IAM client (botocore's awsQuery
parser and its policy-document decoding). Run by TestBoto3 against an
httptest server that answers with iamwire.Marshal; argv[1] is its URL.
Prints "ok NAME" or "FAIL NAME: DETAIL" per check; exits 1 on a failure."""

import datetime
import sys
import traceback

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

URL = sys.argv[1]
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                                 "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
PERM = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
                                               "Resource": "arn:aws:s3:::b/${aws:username}/*",
                                               "Condition": {"Bool": {"aws:SecureTransport": "true"}}}}
CREATED = datetime.datetime(2026, 12, 5, 6, 0, 0, tzinfo=datetime.timezone.utc)

iam = boto3.client("iam", endpoint_url=URL, region_name="us-east-1", aws_access_key_id="AKIAEXAMPLEEXAMPLE12",
                   aws_secret_access_key="secret", config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10))
failed = 0


def check(name, fn):
    global failed
    try:
        fn()
        print("ok   ", name)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        failed += 1
        print("FAIL ", name + ":", repr(e))
        traceback.print_exc(file=sys.stdout)


def expect_error(code, message, fn):
    try:
        fn()
    except ClientError as e:
        err = e.response["Error"]
        assert err["Code"] == code, err
        assert message is None or err["Message"] == message, err
        return
    raise AssertionError("no error, want " + code)


def create_role():
    import json
    r = iam.create_role(RoleName="app", Path="/pods/", AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=7200,
                        Description="pod role", Tags=[{"Key": "team", "Value": "blue"}])["Role"]
    # botocore decodes the URL-encoded document into a dict.
    assert r["AssumeRolePolicyDocument"] == TRUST, r["AssumeRolePolicyDocument"]
    assert r["Arn"] == "arn:aws:iam::111122223333:role/pods/app", r
    assert r["CreateDate"] == CREATED, r["CreateDate"]
    assert r["MaxSessionDuration"] == 7200 and r["Tags"] == [{"Key": "team", "Value": "blue"}], r


def get_role():
    r = iam.get_role(RoleName="app")["Role"]
    assert r["PermissionsBoundary"]["PermissionsBoundaryType"] == "PermissionsBoundaryPolicy", r
    expect_error("NoSuchEntity", "The role with name missing cannot be found.", lambda: iam.get_role(RoleName="missing"))


def list_roles_paginated():
    names = []
    for page in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 2}):
        names += [r["RoleName"] for r in page["Roles"]]
    assert names == ["a", "b", "c"], names


def role_misc():
    iam.update_role(RoleName="app", Description="x")
    iam.update_assume_role_policy(RoleName="app", PolicyDocument="{}")
    iam.tag_role(RoleName="app", Tags=[{"Key": "a", "Value": "b"}])
    iam.untag_role(RoleName="app", TagKeys=["a"])
    assert iam.list_role_tags(RoleName="app")["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert iam.list_instance_profiles_for_role(RoleName="app")["InstanceProfiles"] == []
    iam.delete_role(RoleName="app")
    expect_error("DeleteConflict", "Cannot delete entity, must delete policies first.", lambda: iam.delete_role(RoleName="busy"))


def role_policies():
    p = iam.get_role_policy(RoleName="app", PolicyName="p")
    assert p["PolicyDocument"] == PERM, p
    assert iam.list_role_policies(RoleName="app")["PolicyNames"] == ["p1", "p2"]
    a = iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"]
    assert a == [{"PolicyName": "read", "PolicyArn": "arn:aws:iam::111122223333:policy/read"}], a
    iam.put_role_policy(RoleName="app", PolicyName="p", PolicyDocument="{}")
    iam.attach_role_policy(RoleName="app", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.detach_role_policy(RoleName="app", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.delete_role_policy(RoleName="app", PolicyName="p")


def managed_policies():
    p = iam.create_policy(PolicyName="read", PolicyDocument="{}")["Policy"]
    assert p["DefaultVersionId"] == "v1" and p["IsAttachable"] is True and p["AttachmentCount"] == 1, p
    expect_error("EntityAlreadyExists", "A policy called dup already exists. Duplicate names are not allowed.",
                 lambda: iam.create_policy(PolicyName="dup", PolicyDocument="{}"))
    v = iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v1")["PolicyVersion"]
    assert v["Document"] == PERM and v["IsDefaultVersion"] is True, v
    v2 = iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument="{}", SetAsDefault=True)["PolicyVersion"]
    assert v2["VersionId"] == "v2" and "Document" not in v2, v2
    expect_error("MalformedPolicyDocument", "Syntax errors in policy.",
                 lambda: iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument="nope"))
    vs = iam.list_policy_versions(PolicyArn=p["Arn"])["Versions"]
    assert [x["VersionId"] for x in vs] == ["v2", "v1"], vs
    assert len(iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]) == 1
    e = iam.list_entities_for_policy(PolicyArn=p["Arn"])
    assert e["PolicyRoles"] == [{"RoleName": "app", "RoleId": "AROAEXAMPLEEXAMPLE12"}] and e["PolicyGroups"] == [], e
    iam.delete_policy_version(PolicyArn=p["Arn"], VersionId="v1")
    iam.delete_policy(PolicyArn=p["Arn"])


def users_and_keys():
    u = iam.create_user(UserName="node")["User"]
    assert u["UserId"] == "AIDAEXAMPLEEXAMPLE12" and u["Arn"] == "arn:aws:iam::111122223333:user/node", u
    assert iam.get_user(UserName="node")["User"]["UserName"] == "node"
    k = iam.create_access_key(UserName="node")["AccessKey"]
    assert k["AccessKeyId"].startswith("AKIA") and len(k["AccessKeyId"]) == 20 and len(k["SecretAccessKey"]) == 40, k
    expect_error("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", lambda: iam.create_access_key(UserName="full"))
    ks = iam.list_access_keys(UserName="node")["AccessKeyMetadata"]
    assert ks[0]["Status"] == "Inactive", ks
    iam.update_access_key(UserName="node", AccessKeyId="AKIAEXAMPLEEXAMPLE12", Status="Inactive")
    iam.delete_access_key(UserName="node", AccessKeyId="AKIAEXAMPLEEXAMPLE12")
    assert iam.get_user_policy(UserName="node", PolicyName="p")["PolicyDocument"] == PERM
    for call in (iam.list_user_policies, iam.list_attached_user_policies, iam.list_groups_for_user, iam.list_signing_certificates,
                 iam.list_ssh_public_keys, iam.list_mfa_devices, iam.list_user_tags):
        call(UserName="node")
    assert iam.list_service_specific_credentials(UserName="node")["ServiceSpecificCredentials"] == []
    expect_error("NoSuchEntity", "Login Profile for User node cannot be found.", lambda: iam.get_login_profile(UserName="node"))
    expect_error("NoSuchEntity", "Login Profile for User node cannot be found.", lambda: iam.delete_login_profile(UserName="node"))
    assert iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"] == []
    iam.delete_user(UserName="node")


def validation():
    expect_error("ValidationError",
                 "1 validation error detected: Value 'a b' at 'roleName' failed to satisfy constraint: "
                 "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
                 lambda: iam.create_role(RoleName="a b", AssumeRolePolicyDocument="{}"))


for name, fn in [("CreateRole", create_role), ("GetRole", get_role), ("ListRoles paginator", list_roles_paginated),
                 ("role operations", role_misc), ("role policies", role_policies), ("managed policies", managed_policies),
                 ("users and access keys", users_and_keys), ("validation", validation)]:
    check(name, fn)
print(f"boto3 iam: {8 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
