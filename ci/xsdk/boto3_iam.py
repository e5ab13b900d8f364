#!/usr/bin/env python3
"""podid's IAM API through boto3 (botocore signs with service "iam": the
real SigV4 path of `podid serve --auth sigv4`, at the POST / it shares with
STS): every action podid serves (OpenID Connect providers too), the errors
IAM answers with, paginators,
and an IAM user's access key authenticating requests (Active, Inactive,
deleted).

Run by ci/xsdk/run.sh, which starts the server. Environment:
  PODID_URL       the server's base URL
  PODID_DATA_DIR  its --data-dir (admin-credentials.json is read from it)
Prints "ok    NAME" or "FAIL  NAME: DETAIL" per check, then
"boto3 IAM: N passed, M failed"; exits 1 if any check failed.
"""

import json
import re
import sys

from checks import ACCOUNT, admin_keys, check, client, expect_error, fail, finish, is_dt, ok, run_steps

P = "py-iam-"  # every name this script makes starts with it

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                                  "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
PERMS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}


def role_flows(iam):
    r = iam.create_role(RoleName=P + "app", Path="/pods/", AssumeRolePolicyDocument=json.dumps(TRUST),
                        Description="the app", MaxSessionDuration=7200, Tags=[{"Key": "team", "Value": "a"}])["Role"]
    check("create_role", r["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/pods/{P}app" and re.fullmatch(r"AROA[A-Z2-7]{17}", r["RoleId"])
          and r["AssumeRolePolicyDocument"] == TRUST and r["MaxSessionDuration"] == 7200 and is_dt(r["CreateDate"]), repr(r))
    expect_error("create_role of a taken name (case ignored)", "EntityAlreadyExists", 409, iam.create_role,
                 RoleName=(P + "APP"), AssumeRolePolicyDocument=json.dumps(TRUST), message_re=r"^Role with name py-iam-APP already exists\.$")
    expect_error("create_role with a malformed trust policy", "MalformedPolicyDocument", 400, iam.create_role,
                 RoleName=P + "bad", AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}')
    expect_error("create_role with an invalid name", "ValidationError", 400, iam.create_role,
                 RoleName="bad name", AssumeRolePolicyDocument=json.dumps(TRUST))
    g = iam.get_role(RoleName=P + "APP")["Role"]
    check("get_role ignores case", g["RoleName"] == P + "app" and g["Description"] == "the app" and g["Tags"] == [{"Key": "team", "Value": "a"}], repr(g))
    expect_error("get_role of a missing role", "NoSuchEntity", 404, iam.get_role, RoleName=P + "nope",
                 message_re=r"^The role with name py-iam-nope cannot be found\.$")
    iam.update_role(RoleName=P + "app", Description="new", MaxSessionDuration=3600)
    d = iam.update_role_description(RoleName=P + "app", Description="newer")["Role"]
    check("update_role and update_role_description", d["Description"] == "newer" and d["MaxSessionDuration"] == 3600, repr(d))
    trust2 = json.loads(json.dumps(TRUST))
    trust2["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    iam.update_assume_role_policy(RoleName=P + "app", PolicyDocument=json.dumps(trust2))
    check("update_assume_role_policy", iam.get_role(RoleName=P + "app")["Role"]["AssumeRolePolicyDocument"] == trust2)
    iam.tag_role(RoleName=P + "app", Tags=[{"Key": "env", "Value": "dev"}])
    iam.untag_role(RoleName=P + "app", TagKeys=["team"])
    check("tag_role, untag_role, list_role_tags", iam.list_role_tags(RoleName=P + "app")["Tags"] == [{"Key": "env", "Value": "dev"}])
    check("list_instance_profiles_for_role (none)", iam.list_instance_profiles_for_role(RoleName=P + "app")["InstanceProfiles"] == [])
    iam.put_role_policy(RoleName=P + "app", PolicyName="read", PolicyDocument=json.dumps(PERMS))
    rp = iam.get_role_policy(RoleName=P + "app", PolicyName="read")
    check("put_role_policy, get_role_policy (document decoded)", rp["PolicyDocument"] == PERMS and rp["RoleName"] == P + "app", repr(rp))
    check("list_role_policies", iam.list_role_policies(RoleName=P + "app")["PolicyNames"] == ["read"])
    expect_error("put_role_policy without Resource", "MalformedPolicyDocument", 400, iam.put_role_policy, RoleName=P + "app",
                 PolicyName="bad", PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}')
    expect_error("delete_role with an inline policy", "DeleteConflict", 409, iam.delete_role, RoleName=P + "app",
                 message_re=r"must delete policies first")
    iam.delete_role_policy(RoleName=P + "app", PolicyName="read")
    expect_error("get_role_policy after delete_role_policy", "NoSuchEntity", 404, iam.get_role_policy, RoleName=P + "app", PolicyName="read")
    for n in ("b", "c"):
        iam.create_role(RoleName=P + n, AssumeRolePolicyDocument=json.dumps(TRUST))
    names = [r["RoleName"] for page in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1})
             for r in page["Roles"] if r["RoleName"].startswith(P)]
    check("list_roles paginator (1 per page)", names == [P + "app", P + "b", P + "c"], repr(names))
    pods = [r["RoleName"] for r in iam.list_roles(PathPrefix="/pods/")["Roles"]]
    check("list_roles PathPrefix", pods == [P + "app"], repr(pods))
    iam.put_role_permissions_boundary(RoleName=P + "b", PermissionsBoundary="arn:aws:iam::aws:policy/PowerUserAccess")
    b = iam.get_role(RoleName=P + "b")["Role"].get("PermissionsBoundary", {})
    iam.delete_role_permissions_boundary(RoleName=P + "b")
    check("put/delete_role_permissions_boundary", b.get("PermissionsBoundaryArn") == "arn:aws:iam::aws:policy/PowerUserAccess"
          and "PermissionsBoundary" not in iam.get_role(RoleName=P + "b")["Role"], repr(b))
    for n in ("b", "c"):
        iam.delete_role(RoleName=P + n)
    ok("delete_role")


def policy_flows(iam):
    p = iam.create_policy(PolicyName=P + "read", Path="/team/", PolicyDocument=json.dumps(PERMS), Description="reads",
                          Tags=[{"Key": "k", "Value": "v"}])["Policy"]
    arn = p["Arn"]
    check("create_policy", arn == f"arn:aws:iam::{ACCOUNT}:policy/team/{P}read" and p["DefaultVersionId"] == "v1"
          and re.fullmatch(r"ANPA[A-Z2-7]{17}", p["PolicyId"]) and p["AttachmentCount"] == 0, repr(p))
    expect_error("create_policy of a taken name", "EntityAlreadyExists", 409, iam.create_policy, PolicyName=P + "READ",
                 PolicyDocument=json.dumps(PERMS), message_re=r"A policy called py-iam-READ already exists")
    check("get_policy", iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "reads")
    expect_error("get_policy of a missing policy", "NoSuchEntity", 404, iam.get_policy, PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/{P}nope")
    for i in range(2, 6):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(PERMS), SetAsDefault=(i == 3))
    expect_error("a sixth policy version", "LimitExceeded", 409, iam.create_policy_version, PolicyArn=arn, PolicyDocument=json.dumps(PERMS))
    vs = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    check("list_policy_versions (newest first, v3 default)", [v["VersionId"] for v in vs] == ["v5", "v4", "v3", "v2", "v1"]
          and [v["VersionId"] for v in vs if v["IsDefaultVersion"]] == ["v3"], repr(vs))
    expect_error("delete_policy_version of the default", "DeleteConflict", 409, iam.delete_policy_version, PolicyArn=arn, VersionId="v3")
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    gv = iam.get_policy_version(PolicyArn=arn, VersionId="v5")["PolicyVersion"]
    check("set_default_policy_version, get_policy_version", gv["IsDefaultVersion"] and gv["Document"] == PERMS, repr(gv))
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    iam.untag_policy(PolicyArn=arn, TagKeys=["k"])
    check("tag_policy, untag_policy, list_policy_tags", iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}])

    iam.create_role(RoleName=P + "r", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_user(UserName=P + "u")
    iam.attach_role_policy(RoleName=P + "r", PolicyArn=arn)
    iam.attach_user_policy(UserName=P + "u", PolicyArn=arn)
    ar = iam.list_attached_role_policies(RoleName=P + "r")["AttachedPolicies"]
    au = iam.list_attached_user_policies(UserName=P + "u")["AttachedPolicies"]
    check("attach_role_policy, attach_user_policy, list_attached_*", ar == [{"PolicyName": P + "read", "PolicyArn": arn}] and au == ar, repr((ar, au)))
    check("attachment count", iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2)
    ents = iam.list_entities_for_policy(PolicyArn=arn)
    check("list_entities_for_policy", [r["RoleName"] for r in ents["PolicyRoles"]] == [P + "r"]
          and [u["UserName"] for u in ents["PolicyUsers"]] == [P + "u"] and ents["PolicyGroups"] == [], repr(ents))
    attached = [x["PolicyName"] for x in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    check("list_policies OnlyAttached", P + "read" in attached, repr(attached))
    check("list_policies Scope=AWS (podid has none)", iam.list_policies(Scope="AWS")["Policies"] == [])
    expect_error("attach an AWS managed policy", "NoSuchEntity", 404, iam.attach_role_policy, RoleName=P + "r",
                 PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    expect_error("delete_policy while attached", "DeleteConflict", 409, iam.delete_policy, PolicyArn=arn)
    expect_error("delete_role with an attached policy", "DeleteConflict", 409, iam.delete_role, RoleName=P + "r",
                 message_re="must detach all policies first")
    iam.detach_role_policy(RoleName=P + "r", PolicyArn=arn)
    iam.detach_user_policy(UserName=P + "u", PolicyArn=arn)
    expect_error("detach a policy not attached", "NoSuchEntity", 404, iam.detach_role_policy, RoleName=P + "r", PolicyArn=arn)
    expect_error("delete_policy with versions", "DeleteConflict", 409, iam.delete_policy, PolicyArn=arn)
    for v in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)
    expect_error("get_policy after delete_policy", "NoSuchEntity", 404, iam.get_policy, PolicyArn=arn)
    iam.delete_role(RoleName=P + "r")
    iam.delete_user(UserName=P + "u")
    ok("detach, delete_policy_version, delete_policy")


def user_flows(iam, admin_key):
    u = iam.create_user(UserName=P + "node", Path="/nodes/", Tags=[{"Key": "k", "Value": "v"}])["User"]
    check("create_user", u["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/nodes/{P}node" and re.fullmatch(r"AIDA[A-Z2-7]{17}", u["UserId"]), repr(u))
    expect_error("create_user of a taken name", "EntityAlreadyExists", 409, iam.create_user, UserName=P + "NODE")
    check("get_user", iam.get_user(UserName=P + "node")["User"]["UserId"] == u["UserId"])
    check("get_user without a name, as the root", iam.get_user()["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:root")
    check("list_users PathPrefix", [x["UserName"] for x in iam.list_users(PathPrefix="/nodes/")["Users"]] == [P + "node"])
    iam.tag_user(UserName=P + "node", Tags=[{"Key": "env", "Value": "dev"}])
    iam.untag_user(UserName=P + "node", TagKeys=["k"])
    check("tag_user, untag_user, list_user_tags", iam.list_user_tags(UserName=P + "node")["Tags"] == [{"Key": "env", "Value": "dev"}])
    iam.put_user_policy(UserName=P + "node", PolicyName="p", PolicyDocument=json.dumps(PERMS))
    check("put_user_policy, get_user_policy", iam.get_user_policy(UserName=P + "node", PolicyName="p")["PolicyDocument"] == PERMS)
    check("list_user_policies", iam.list_user_policies(UserName=P + "node")["PolicyNames"] == ["p"])
    for name, fn, key in [("list_groups_for_user", iam.list_groups_for_user, "Groups"), ("list_mfa_devices", iam.list_mfa_devices, "MFADevices"),
                          ("list_signing_certificates", iam.list_signing_certificates, "Certificates"),
                          ("list_ssh_public_keys", iam.list_ssh_public_keys, "SSHPublicKeys"),
                          ("list_service_specific_credentials", iam.list_service_specific_credentials, "ServiceSpecificCredentials")]:
        check(f"{name} (none)", fn(UserName=P + "node")[key] == [])
    check("list_virtual_mfa_devices (none)", iam.list_virtual_mfa_devices()["VirtualMFADevices"] == [])
    expect_error("get_login_profile (none)", "NoSuchEntity", 404, iam.get_login_profile, UserName=P + "node")
    iam.put_user_permissions_boundary(UserName=P + "node", PermissionsBoundary="arn:aws:iam::aws:policy/PowerUserAccess")
    iam.delete_user_permissions_boundary(UserName=P + "node")
    ok("put/delete_user_permissions_boundary")

    k = iam.create_access_key(UserName=P + "node")["AccessKey"]
    check("create_access_key", re.fullmatch(r"AKIA[A-Z2-7]{16}", k["AccessKeyId"]) and len(k["SecretAccessKey"]) == 40
          and k["Status"] == "Active", repr({**k, "SecretAccessKey": "..."}))
    iam.create_access_key(UserName=P + "node")
    expect_error("a third access key", "LimitExceeded", 409, iam.create_access_key, UserName=P + "node",
                 message_re=r"^Cannot exceed quota for AccessKeysPerUser: 2$")
    keys = iam.list_access_keys(UserName=P + "node")["AccessKeyMetadata"]
    check("list_access_keys", [x["AccessKeyId"] for x in keys][0] == k["AccessKeyId"] and len(keys) == 2, repr(keys))
    last = iam.get_access_key_last_used(AccessKeyId=k["AccessKeyId"])
    check("get_access_key_last_used", last["UserName"] == P + "node", repr(last))

    sts = client("sts", k["AccessKeyId"], k["SecretAccessKey"])
    who = sts.get_caller_identity()
    check("the user's key authenticates as the user", who["Arn"] == u["Arn"] and who["UserId"] == u["UserId"], repr(who))
    uiam = client("iam", k["AccessKeyId"], k["SecretAccessKey"])
    iam.update_access_key(UserName=P + "node", AccessKeyId=k["AccessKeyId"], Status="Inactive")
    expect_error("an Inactive key (STS)", "InvalidClientTokenId", 403, sts.get_caller_identity,
                 message_re=r"^The security token included in the request is invalid\.$")
    expect_error("an Inactive key (IAM)", "InvalidClientTokenId", 403, uiam.get_user)
    eks = client("eks", k["AccessKeyId"], k["SecretAccessKey"])
    expect_error("an Inactive key (EKS)", "UnrecognizedClientException", 403, eks.list_clusters)
    iam.update_access_key(UserName=P + "node", AccessKeyId=k["AccessKeyId"], Status="Active")
    check("Active again", sts.get_caller_identity()["Arn"] == u["Arn"])
    expect_error("delete_user with access keys", "DeleteConflict", 409, iam.delete_user, UserName=P + "node",
                 message_re="must delete access keys first")
    iam.update_user(UserName=P + "node", NewUserName=P + "node2")
    check("update_user renames; the key follows", sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/nodes/{P}node2")
    for x in keys:
        iam.delete_access_key(UserName=P + "node2", AccessKeyId=x["AccessKeyId"])
    expect_error("a deleted key", "InvalidClientTokenId", 403, sts.get_caller_identity)
    expect_error("delete_access_key again", "NoSuchEntity", 404, iam.delete_access_key, UserName=P + "node2", AccessKeyId=k["AccessKeyId"])
    iam.delete_user_policy(UserName=P + "node2", PolicyName="p")
    iam.delete_user(UserName=P + "node2")
    expect_error("get_user after delete_user", "NoSuchEntity", 404, iam.get_user, UserName=P + "node2")


def oidc_flows(iam):
    """OpenID Connect providers, as Terraform's EKS modules and eksctl use them."""
    host = "oidc.eks.us-east-1.amazonaws.com/id/" + P.upper().replace("-", "")
    url, arn = "https://" + host, f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
    tp1, tp2 = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280", "b" * 40
    c = iam.create_open_id_connect_provider(Url=url, ClientIDList=["sts.amazonaws.com"], ThumbprintList=[tp1],
                                            Tags=[{"Key": "team", "Value": "a"}])
    check("create_open_id_connect_provider", c["OpenIDConnectProviderArn"] == arn, repr(c))
    expect_error("create_open_id_connect_provider of a URL in use", "EntityAlreadyExists", 409, iam.create_open_id_connect_provider,
                 Url=url, message_re=rf"^Provider with url {re.escape(url)} already exists\.$")
    expect_error("create_open_id_connect_provider without https", "ValidationError", 400, iam.create_open_id_connect_provider,
                 Url="example.org", ThumbprintList=["a" * 40], message_re=r"^Invalid Open ID Connect Provider URL$")
    expect_error("create_open_id_connect_provider with six thumbprints", "InvalidInput", 400, iam.create_open_id_connect_provider,
                 Url="https://example.org", ThumbprintList=[tp1, tp2] * 3, message_re=r"^Thumbprint list must contain fewer than 5 entries\.$")
    expect_error("create_open_id_connect_provider with 101 client IDs", "LimitExceeded", 409, iam.create_open_id_connect_provider,
                 Url="https://example.org", ClientIDList=[str(i) for i in range(101)],
                 message_re=r"^Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100$")
    expect_error("create_open_id_connect_provider with lengths out of range", "ValidationError", 400, iam.create_open_id_connect_provider,
                 Url="b" * 256, ThumbprintList=["b" * 41], ClientIDList=["b" * 256],
                 message_re=r"^3 validation errors detected: Value at 'clientIDList' failed to satisfy constraint: Member must satisfy constraint: "
                            r"\[Member must have length less than or equal to 255, Member must have length greater than or equal to 1\]; "
                            r"Value at 'thumbprintList' .*; Value at 'url' failed to satisfy constraint: Member must have length less than or equal to 255$")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com")
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=[tp2, tp1])
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["team"])
    g = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    check("get_open_id_connect_provider after the edits", g["Url"] == host and g["ClientIDList"] == ["app"] and g["ThumbprintList"] == [tp2, tp1]
          and g["Tags"] == [{"Key": "env", "Value": "dev"}] and is_dt(g["CreateDate"]), repr(g))
    lt = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)
    check("list_open_id_connect_provider_tags", lt["Tags"] == [{"Key": "env", "Value": "dev"}] and lt["IsTruncated"] is False, repr(lt))
    ls = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    check("list_open_id_connect_providers", {"Arn": arn} in ls, repr(ls))
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    expect_error("get_open_id_connect_provider after the delete", "NoSuchEntity", 404, iam.get_open_id_connect_provider,
                 OpenIDConnectProviderArn=arn, message_re=rf"^OpenIDConnect Provider not found for arn {re.escape(arn)}$")
    expect_error("delete_open_id_connect_provider again", "NoSuchEntity", 404, iam.delete_open_id_connect_provider,
                 OpenIDConnectProviderArn=arn, message_re=rf"^OpenId connect Provider {re.escape(arn)} cannot be found\.$")


def main():
    akid, secret = admin_keys()
    iam = client("iam", akid, secret)
    run_steps([("roles", lambda: role_flows(iam)), ("policies", lambda: policy_flows(iam)),
               ("users and access keys", lambda: user_flows(iam, akid)), ("OpenID Connect providers", lambda: oidc_flows(iam))])
    try:
        iam.delete_role(RoleName=P + "app")
        ok("delete_role of the last role")
    except Exception as e:
        fail("delete_role raised", f"{type(e).__name__}: {e}")
    return finish("boto3 IAM")


if __name__ == "__main__":
    sys.exit(main())
