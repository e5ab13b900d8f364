// podid's EKS and STS flows through the AWS SDK for JavaScript v3, signing
// with SigV4 against `podid serve --auth sigv4`.
//
// Run by ci/xsdk/run.sh, which starts the server and sets the SDK's own
// environment: AWS_ENDPOINT_URL_EKS, AWS_ENDPOINT_URL_STS, AWS_REGION and the
// admin keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Prints
// "ok    NAME" or "FAIL  NAME: DETAIL" per check, then
// "js: N passed, M failed"; exits 1 if any check failed.
//
// PODID_AGENT_URL and PODID_POD_TOKEN_FILE (written by the boto3 flows) are
// for the container-credentials check against `podid agent`.
//
// (EKS Auth itself is called from the boto3 flows: @aws-sdk/client-eks-auth
// is not in the npm registry this project installs from. Here it is reached
// through podid agent.)

import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { isDeepStrictEqual, inspect } from "node:util";
import {
  EKSClient,
  CreateClusterCommand,
  DescribeClusterCommand,
  DeleteClusterCommand,
  CreatePodIdentityAssociationCommand,
  DescribePodIdentityAssociationCommand,
  UpdatePodIdentityAssociationCommand,
  DeletePodIdentityAssociationCommand,
  ListPodIdentityAssociationsCommand,
  TagResourceCommand,
  UntagResourceCommand,
  ListTagsForResourceCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  paginateListClusters,
  paginateListPodIdentityAssociations,
  waitUntilClusterActive,
  waitUntilClusterDeleted,
} from "@aws-sdk/client-eks";
import { STSClient, GetCallerIdentityCommand, AssumeRoleCommand } from "@aws-sdk/client-sts";

const URL = process.env.AWS_ENDPOINT_URL_EKS;
const REGION = "us-east-1";
const ACCOUNT = "000000000000";
const CLUSTER = "js-c1";
const CLUSTER2 = "js-c2";
const ROLE = `arn:aws:iam::${ACCOUNT}:role/pod-role`;
const ROLE2 = `arn:aws:iam::${ACCOUNT}:role/pod-role-2`;
const TARGET = "arn:aws:iam::111122223333:role/target";
const POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}';

let passed = 0;
let failed = 0;
const ok = (name) => {
  passed++;
  console.log(`ok    ${name}`);
};
const fail = (name, detail) => {
  failed++;
  console.log(`FAIL  ${name}: ${detail}`);
};
const show = (v) => inspect(v, { depth: 6, breakLength: Infinity });
const check = (name, cond, v) => (cond ? ok(name) : fail(name, show(v)));

// Bounded: each attempt times out; at most two attempts.
const clientConfig = { region: REGION, maxAttempts: 2, requestHandler: { requestTimeout: 20000, connectionTimeout: 5000 } };
// The endpoint comes from AWS_ENDPOINT_URL_EKS / AWS_ENDPOINT_URL_STS and the
// keys from the environment, as in users' code.
const eks = new EKSClient(clientConfig);

// expectError: the command must fail with err.name === code and the HTTP
// status; returns the error.
async function expectError(name, code, status, client, command, messageRe) {
  try {
    const out = await client.send(command);
    fail(name, `succeeded, want ${code}: ${show(out)}`);
    return undefined;
  } catch (err) {
    const got = err?.$metadata?.httpStatusCode;
    if (err?.name !== code || got !== status) {
      fail(name, `got ${err?.name} ${got} (${err?.message}), want ${code} ${status}`);
    } else if (messageRe && !messageRe.test(err.message)) {
      fail(name, `message ${JSON.stringify(err.message)} does not match ${messageRe}`);
    } else {
      ok(name);
    }
    return err;
  }
}

const isDate = (v) => v instanceof Date && !Number.isNaN(v.getTime());

async function clusterFlows() {
  const c = (
    await eks.send(
      new CreateClusterCommand({
        name: CLUSTER,
        roleArn: `arn:aws:iam::${ACCOUNT}:role/eks`,
        resourcesVpcConfig: { subnetIds: ["subnet-1", "subnet-2"] },
        tags: { env: "test" },
      }),
    )
  ).cluster;
  check(
    "CreateCluster: ACTIVE at once, ARN, tags, createdAt a Date",
    c.status === "ACTIVE" && c.arn === `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${CLUSTER}` &&
      isDeepStrictEqual(c.tags, { env: "test" }) && isDate(c.createdAt),
    c,
  );
  await eks.send(new CreateClusterCommand({ name: CLUSTER2, roleArn: `arn:aws:iam::${ACCOUNT}:role/eks`, resourcesVpcConfig: { subnetIds: ["subnet-1"] } }));
  const d = (await eks.send(new DescribeClusterCommand({ name: CLUSTER }))).cluster;
  check(
    "DescribeCluster",
    d.name === CLUSTER && isDeepStrictEqual(d.resourcesVpcConfig.subnetIds, ["subnet-1", "subnet-2"]) &&
      d.identity.oidc.issuer === `${URL}/clusters-oidc/${CLUSTER}` && isDate(d.createdAt),
    d,
  );
  const pages = [];
  for await (const p of paginateListClusters({ client: eks, pageSize: 1 }, {})) pages.push(p);
  const names = pages.flatMap((p) => p.clusters);
  check(
    "paginateListClusters (pageSize 1): each cluster once, one per page",
    isDeepStrictEqual(names.filter((n) => n.startsWith("js-")), [CLUSTER, CLUSTER2]) && new Set(names).size === names.length &&
      pages.every((p) => p.clusters.length <= 1) && pages.length >= 2 && pages.at(-1).nextToken === undefined,
    pages,
  );
  const w = await waitUntilClusterActive({ client: eks, minDelay: 1, maxDelay: 1, maxWaitTime: 10 }, { name: CLUSTER });
  check("waitUntilClusterActive", w.state === "SUCCESS", w);
  await expectError("DescribeCluster of a missing cluster", "ResourceNotFoundException", 404, eks, new DescribeClusterCommand({ name: "js-nope" }));
  await expectError(
    "CreateCluster with a taken name",
    "ResourceInUseException",
    409,
    eks,
    new CreateClusterCommand({ name: CLUSTER, roleArn: `arn:aws:iam::${ACCOUNT}:role/eks`, resourcesVpcConfig: { subnetIds: ["subnet-1"] } }),
  );
}

async function associationFlows() {
  let a = (
    await eks.send(new CreatePodIdentityAssociationCommand({ clusterName: CLUSTER, namespace: "default", serviceAccount: "app", roleArn: ROLE, tags: { team: "a" } }))
  ).association;
  check(
    "CreatePodIdentityAssociation",
    /^a-[a-z0-9]{17}$/.test(a.associationId) && a.roleArn === ROLE && isDeepStrictEqual(a.tags, { team: "a" }) &&
      a.disableSessionTags === false &&
      a.associationArn === `arn:aws:eks:${REGION}:${ACCOUNT}:podidentityassociation/${CLUSTER}/${a.associationId}`,
    a,
  );
  check("Create: createdAt and modifiedAt are equal Dates", isDate(a.createdAt) && a.createdAt.getTime() === a.modifiedAt.getTime(), a);
  const id1 = a.associationId;
  const arn1 = a.associationArn;

  a = (
    await eks.send(
      new CreatePodIdentityAssociationCommand({
        clusterName: CLUSTER, namespace: "default", serviceAccount: "worker", roleArn: ROLE,
        targetRoleArn: TARGET, disableSessionTags: true, policy: POLICY, tags: { k1: "v1" },
      }),
    )
  ).association;
  check(
    "Create with a target role, disableSessionTags and a policy",
    a.targetRoleArn === TARGET && a.externalId === `${REGION}/${ACCOUNT}/${CLUSTER}/default/worker` && a.disableSessionTags === true &&
      isDeepStrictEqual(JSON.parse(a.policy), JSON.parse(POLICY)),
    a,
  );
  const id2 = a.associationId;
  const id3 = (await eks.send(new CreatePodIdentityAssociationCommand({ clusterName: CLUSTER, namespace: "other", serviceAccount: "app", roleArn: ROLE }))).association.associationId;

  const dup = new CreatePodIdentityAssociationCommand({ clusterName: CLUSTER, namespace: "default", serviceAccount: "app", roleArn: ROLE2 });
  const err = await expectError("duplicate create: 409 ResourceInUseException naming the existing ID", "ResourceInUseException", 409, eks, dup,
    new RegExp(`Association already exists: ${id1}`));
  check("duplicate create is an instance of ResourceInUseException", err instanceof ResourceInUseException, err);
  await expectError("Create with a policy but session tags on", "InvalidParameterException", 400, eks,
    new CreatePodIdentityAssociationCommand({ clusterName: CLUSTER, namespace: "default", serviceAccount: "p", roleArn: ROLE, policy: POLICY }));

  const token = randomUUID();
  const r1 = (await eks.send(new CreatePodIdentityAssociationCommand({ clusterName: CLUSTER, namespace: "idem", serviceAccount: "app", roleArn: ROLE, clientRequestToken: token }))).association;
  const r2 = (await eks.send(new CreatePodIdentityAssociationCommand({ clusterName: CLUSTER, namespace: "idem", serviceAccount: "app", roleArn: ROLE, clientRequestToken: token }))).association;
  check("Create repeated with the same clientRequestToken returns the original", r1.associationId === r2.associationId, [r1, r2]);

  const before = (await eks.send(new DescribePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id1 }))).association;
  check("DescribePodIdentityAssociation", before.associationId === id1 && before.serviceAccount === "app" && isDate(before.modifiedAt), before);
  const nf = await expectError("Describe a missing association", "ResourceNotFoundException", 404, eks,
    new DescribePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: "a-00000000000000000" }));
  check("missing association is an instance of ResourceNotFoundException", nf instanceof ResourceNotFoundException, nf);
  await expectError("Describe with a malformed association ID", "InvalidParameterException", 400, eks,
    new DescribePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: "a-short" }));

  a = (await eks.send(new UpdatePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id1, roleArn: ROLE2, targetRoleArn: TARGET }))).association;
  check(
    "Update: role change and target role; externalId; modifiedAt moves",
    a.roleArn === ROLE2 && a.targetRoleArn === TARGET && a.externalId === `${REGION}/${ACCOUNT}/${CLUSTER}/default/app` &&
      a.modifiedAt > before.modifiedAt && a.createdAt.getTime() === before.createdAt.getTime(),
    a,
  );
  a = (await eks.send(new UpdatePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id1, targetRoleArn: "" }))).association;
  check('Update: targetRoleArn "" removes the target role and externalId', a.targetRoleArn === undefined && a.externalId === undefined && a.roleArn === ROLE2, a);
  await expectError("Update that changes nothing", "InvalidParameterException", 400, eks,
    new UpdatePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id1, roleArn: ROLE2 }));
  await expectError("Update: policy without disableSessionTags", "InvalidParameterException", 400, eks,
    new UpdatePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id1, policy: POLICY }));
  a = (await eks.send(new UpdatePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id1, disableSessionTags: true, policy: POLICY }))).association;
  check("Update: disableSessionTags and policy", a.disableSessionTags === true && isDeepStrictEqual(JSON.parse(a.policy), JSON.parse(POLICY)), a);

  const pages = [];
  for await (const p of paginateListPodIdentityAssociations({ client: eks, pageSize: 2 }, { clusterName: CLUSTER })) pages.push(p);
  const ids = pages.flatMap((p) => p.associations.map((x) => x.associationId));
  check(
    "paginateListPodIdentityAssociations (pageSize 2): every association once, pages of at most 2",
    isDeepStrictEqual([...ids].sort(), [id1, id2, id3, r1.associationId].sort()) && pages.length === 2 &&
      pages.every((p) => p.associations.length <= 2) && pages.at(-1).nextToken === undefined,
    pages,
  );
  const filtered = await eks.send(new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER, namespace: "default", serviceAccount: "worker" }));
  check("List filters", isDeepStrictEqual(filtered.associations.map((x) => x.associationId), [id2]) && filtered.nextToken === undefined, filtered);
  await expectError("List with maxResults 101", "InvalidParameterException", 400, eks, new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER, maxResults: 101 }));
  await expectError("List with a forged nextToken", "InvalidParameterException", 400, eks, new ListPodIdentityAssociationsCommand({ clusterName: CLUSTER, nextToken: "forged" }));

  await eks.send(new TagResourceCommand({ resourceArn: arn1, tags: { owner: "me", team: "b" } }));
  await eks.send(new UntagResourceCommand({ resourceArn: arn1, tagKeys: ["owner"] }));
  let tags = await eks.send(new ListTagsForResourceCommand({ resourceArn: arn1 }));
  check("TagResource, UntagResource, ListTagsForResource (association ARN)", isDeepStrictEqual(tags.tags, { team: "b" }), tags);
  const clusterArn = `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${CLUSTER}`;
  await eks.send(new TagResourceCommand({ resourceArn: clusterArn, tags: { tier: "gold" } }));
  tags = await eks.send(new ListTagsForResourceCommand({ resourceArn: clusterArn }));
  check("tags on a cluster ARN", isDeepStrictEqual(tags.tags, { env: "test", tier: "gold" }), tags);
  // Keys and values with every character class the tag pattern allows:
  // UntagResource sends them in the query string, which SigV4 signs.
  const odd = "team name/x+y=z@ é:.-_";
  await eks.send(new TagResourceCommand({ resourceArn: arn1, tags: { [odd]: "välue ✓ & more", plain: "1" } }));
  tags = await eks.send(new ListTagsForResourceCommand({ resourceArn: arn1 }));
  check("tags with spaces, /+=@:, and non-ASCII round-trip", isDeepStrictEqual(tags.tags, { team: "b", [odd]: "välue ✓ & more", plain: "1" }), tags);
  await eks.send(new UntagResourceCommand({ resourceArn: arn1, tagKeys: [odd, "plain"] }));
  tags = await eks.send(new ListTagsForResourceCommand({ resourceArn: arn1 }));
  check("UntagResource with such keys (signed query string)", isDeepStrictEqual(tags.tags, { team: "b" }), tags);
  await expectError("aws: tag keys are reserved", "BadRequestException", 400, eks, new TagResourceCommand({ resourceArn: arn1, tags: { "aws:x": "y" } }));
  await expectError("ListTagsForResource of an unknown ARN", "NotFoundException", 404, eks,
    new ListTagsForResourceCommand({ resourceArn: `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/js-nope` }));

  a = (await eks.send(new DeletePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id3 }))).association;
  check("Delete returns the full association", a.associationId === id3 && a.roleArn === ROLE && isDate(a.createdAt), a);
  await expectError("a body over --max-body-bytes: 413 RequestEntityTooLargeException", "RequestEntityTooLargeException", 413, eks,
    new CreatePodIdentityAssociationCommand({ clusterName: CLUSTER, namespace: "big", serviceAccount: "app", roleArn: ROLE, disableSessionTags: true, policy: "x".repeat(1 << 20) }));
  await expectError("Delete it again", "ResourceNotFoundException", 404, eks, new DeletePodIdentityAssociationCommand({ clusterName: CLUSTER, associationId: id3 }));
}

async function stsFlows() {
  const sts = new STSClient(clientConfig);
  const admin = await sts.send(new GetCallerIdentityCommand({}));
  check("STS GetCallerIdentity with the admin keys", admin.Account === ACCOUNT && typeof admin.Arn === "string" && admin.Arn.startsWith(`arn:aws:`), admin);

  const out = await sts.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: "js-session" }));
  const c = out.Credentials;
  check(
    "STS AssumeRole: assumed-role ARN, Expiration a Date",
    out.AssumedRoleUser.Arn === `arn:aws:sts::${ACCOUNT}:assumed-role/pod-role/js-session` && isDate(c.Expiration) && c.Expiration > new Date(),
    out,
  );
  const creds = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
  const sess = new STSClient({ ...clientConfig, credentials: creds });
  const who = await sess.send(new GetCallerIdentityCommand({}));
  check("GetCallerIdentity with the assumed-role credentials", who.Arn === out.AssumedRoleUser.Arn && who.UserId === out.AssumedRoleUser.AssumedRoleId, who);

  const ch = await sess.send(new AssumeRoleCommand({ RoleArn: TARGET, RoleSessionName: "chained-js" }));
  const cc = ch.Credentials;
  const chained = new STSClient({ ...clientConfig, credentials: { accessKeyId: cc.AccessKeyId, secretAccessKey: cc.SecretAccessKey, sessionToken: cc.SessionToken } });
  const who2 = await chained.send(new GetCallerIdentityCommand({}));
  check("AssumeRole chained from a session, then GetCallerIdentity",
    who2.Arn === "arn:aws:sts::111122223333:assumed-role/target/chained-js" && who2.Account === "111122223333", [ch, who2]);
  await expectError("chained AssumeRole longer than 1 hour", "ValidationError", 400, sess,
    new AssumeRoleCommand({ RoleArn: TARGET, RoleSessionName: "chained-long", DurationSeconds: 7200 }));

  const badEks = new EKSClient({ ...clientConfig, credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: "wrong-secret-key-wrong-secret-key-wrong0" } });
  await expectError("EKS request signed with the wrong secret", "InvalidSignatureException", 403, badEks, new DescribeClusterCommand({ name: CLUSTER }));
  const badSts = new STSClient({ ...clientConfig, credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: "wrong-secret-key-wrong-secret-key-wrong0" } });
  await expectError("STS request signed with the wrong secret", "SignatureDoesNotMatch", 403, badSts, new GetCallerIdentityCommand({}));
}

// containerFlow: the SDK's default credential chain in a "pod": no keys in
// the environment, AWS_CONTAINER_CREDENTIALS_FULL_URI naming `podid agent`
// (run by run.sh for cluster py-c1) and the pod token the boto3 flows wrote.
async function containerFlow() {
  const agentUrl = process.env.PODID_AGENT_URL;
  const tokenFile = process.env.PODID_POD_TOKEN_FILE;
  if (!agentUrl || !tokenFile || !existsSync(tokenFile)) {
    fail("container credential provider via podid agent", "PODID_AGENT_URL or the pod token file (written by the boto3 flows) is missing");
    return;
  }
  const saved = { ...process.env };
  try {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    delete process.env.AWS_SESSION_TOKEN;
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = agentUrl;
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = tokenFile;
    const pod = new STSClient(clientConfig);
    const who = await pod.send(new GetCallerIdentityCommand({}));
    check(
      "JS default chain → container credentials via podid agent: the pod's role",
      /^arn:aws:sts::000000000000:assumed-role\/pod-role\/eks-py-c1-app-1-[0-9a-f-]{36}$/.test(who.Arn) && who.Account === ACCOUNT,
      who,
    );
  } finally {
    for (const k of ["AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

for (const [name, fn] of [["clusters", clusterFlows], ["associations and tags", associationFlows], ["STS", stsFlows], ["container credentials", containerFlow]]) {
  try {
    await fn();
  } catch (err) {
    fail(`${name} flow threw`, `${err?.name}: ${err?.message}\n${err?.stack}`);
  }
}
try {
  const d = await eks.send(new DeleteClusterCommand({ name: CLUSTER2 }));
  check("DeleteCluster", d.cluster.name === CLUSTER2, d);
  await expectError("Describe a deleted cluster", "ResourceNotFoundException", 404, eks, new DescribeClusterCommand({ name: CLUSTER2 }));
  const w = await waitUntilClusterDeleted({ client: eks, minDelay: 1, maxDelay: 1, maxWaitTime: 10 }, { name: CLUSTER2 });
  check("waitUntilClusterDeleted", w.state === "SUCCESS", w);
} catch (err) {
  fail("DeleteCluster threw", `${err?.name}: ${err?.message}`);
}
console.log(`js (@aws-sdk/client-eks, @aws-sdk/client-sts): ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
