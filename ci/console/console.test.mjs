// Browser tests of podid's web console: Debian's chromium driven by
// playwright-core against a running `podid serve --auth sigv4` (started by
// ci/console/run.sh, which sets PODID_URL and PODID_DATA_DIR). Screenshots
// of every page go to PODID_CONSOLE_OUT (default ci/console/out/).
//
// The flow the console exists for (a credential request refused because
// the role's trust policy lacks sts:TagSession, the trust policy fixed in
// the console, the next request allowed) needs IAM and CloudTrail
// LookupEvents: that test skips, saying what is missing, while the server
// lacks them.
//
// Run: bash ci/console/run.sh

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { chromium } from "playwright-core";
import { Api, ApiError, ADMIN_SERVICE, xmlFields } from "../../internal/console/static/js/api.js";

const here = dirname(fileURLToPath(import.meta.url));
const URL_ = process.env.PODID_URL;
const DATA_DIR = process.env.PODID_DATA_DIR;
const OUT = process.env.PODID_CONSOLE_OUT || join(here, "out");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ACCOUNT = process.env.PODID_ACCOUNT || "000000000000";
const WAIT = 15_000;

if (!URL_ || !DATA_DIR) throw new Error("PODID_URL and PODID_DATA_DIR must be set (run ci/console/run.sh)");
const adminKeys = JSON.parse(readFileSync(join(DATA_DIR, "admin-credentials.json"), "utf8"));
const admin = { accessKeyId: adminKeys.accessKeyId, secretAccessKey: adminKeys.secretAccessKey, region: "us-east-1" };
const api = new Api(admin, URL_);

const CLUSTER = "console-web";
const roleArn = (name) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const TRUST_NO_TAGS = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole"] }],
});
// The session tests' role: the account's own identities whose policies
// allow it may assume it (an IAM user, assumer(): STS refuses the root,
// the admin keys, as AWS does).
const TRUST_ACCOUNT = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: ["sts:AssumeRole", "sts:TagSession"] }],
});
const TRUST_WITH_TAGS = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] }],
}, null, 2);

let browser;
let page;
let shots = 0;
const foreign = [];
const pageErrors = [];
const caps = {}; // what the server offers: iam, trail, explain (true or the error)

async function shot(name) {
  const path = join(OUT, `${String(++shots).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

// untilOK retries fn until it stops throwing (bounded by a deadline).
async function untilOK(fn, what, ms = WAIT) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${ms} ms: ${err.code ?? ""} ${err.message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function expectApiError(promise, code) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiError, `want an ApiError, got ${err}`);
    assert.equal(err.code, code, `want ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`want ${code}, got success`);
}

const probe = (p) => p.then(() => true, (err) => err);

before(async () => {
  mkdirSync(OUT, { recursive: true });
  caps.iam = await probe(api.awsQuery("iam", "2010-05-08", "ListRoles", { MaxItems: "1" }));
  caps.trail = await probe(api.lookupEvents({ maxResults: 1 }));
  const explain = await probe(api.explain({}));
  // Any answer but "no such route" means the endpoint is there (an empty
  // request may well be refused, or name no cluster).
  caps.explain = explain === true || (explain.code !== "UnknownOperationException" && explain.status !== 405) ? true : explain;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("request", (r) => {
    if (!r.url().startsWith(URL_ + "/") && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  page.on("pageerror", (e) => pageErrors.push(e.message));
});

after(async () => {
  await browser?.close();
});

async function ensureRole(name, trust = TRUST_NO_TAGS) {
  if (caps.iam !== true) return;
  try {
    await api.awsQuery("iam", "2010-05-08", "CreateRole", { RoleName: name, AssumeRolePolicyDocument: trust });
  } catch (err) {
    if (err.code !== "EntityAlreadyExists") throw err;
    await api.updateAssumeRolePolicy(name, trust);
  }
}

// assumer returns an Api for an IAM user that may assume console-session
// (the account root may not assume roles); the admin's where IAM is off.
let assumerApi;
async function assumer() {
  if (caps.iam !== true) return api;
  if (assumerApi) return assumerApi;
  try {
    await api.awsQuery("iam", "2010-05-08", "CreateUser", { UserName: "console-assumer" });
  } catch (err) {
    if (err.code !== "EntityAlreadyExists") throw err;
  }
  await api.awsQuery("iam", "2010-05-08", "PutUserPolicy", {
    UserName: "console-assumer",
    PolicyName: "assume",
    PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: roleArn("console-session") }] }),
  });
  const k = xmlFields(await api.awsQuery("iam", "2010-05-08", "CreateAccessKey", { UserName: "console-assumer" }), ["AccessKeyId", "SecretAccessKey"]);
  assumerApi = new Api({ accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey, region: "us-east-1" }, URL_);
  return assumerApi;
}

test("podid serve --auth sigv4 accepts the console's signatures", async () => {
  const me = await api.getCallerIdentity();
  assert.equal(me.Arn, `arn:aws:iam::${ACCOUNT}:root`);
  await api.listClusters(); // a query string
  await api.createCluster({ name: "signer-check", roleArn: roleArn("eks"), resourcesVpcConfig: { subnetIds: ["subnet-1"] } });
  const c = await api.describeCluster("signer-check");
  await api.tagResource(c.arn, { "a b": "x", team: "y", z: "1" }); // an encoded ARN in the path
  await api.untagResource(c.arn, ["z", "a b"]); // repeated query keys, sorted by value
  assert.deepEqual(await api.listTags(c.arn), { team: "y" });
  await api.deleteCluster("signer-check");

  await expectApiError(new Api({ ...admin, secretAccessKey: "wrong" }, URL_).listClusters(), "InvalidSignatureException");
  await expectApiError(new Api({ ...admin, secretAccessKey: "wrong" }, URL_).getCallerIdentity(), "SignatureDoesNotMatch");

  // A session's credentials (with a token).
  await ensureRole("console-session", TRUST_ACCOUNT);
  const xml = await (await assumer()).awsQuery("sts", "2011-06-15", "AssumeRole", { RoleArn: roleArn("console-session"), RoleSessionName: "console-test" });
  const s = xmlFields(xml, ["AccessKeyId", "SecretAccessKey", "SessionToken"]);
  const session = new Api({ accessKeyId: s.AccessKeyId, secretAccessKey: s.SecretAccessKey, sessionToken: s.SessionToken, region: "eu-west-1" }, URL_);
  const who = await session.getCallerIdentity();
  assert.match(who.Arn, /:assumed-role\/console-session\/console-test$/);
});

test("the console is served from the binary with its CSP", async () => {
  const res = await fetch(URL_ + "/console/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-security-policy"), /connect-src 'self'/);
  const redirect = await fetch(URL_ + "/console", { redirect: "manual" });
  assert.equal(redirect.status, 301);
});

test("sign-in: a wrong secret shows AWS's error; the admin keys sign in", async () => {
  await page.goto(URL_ + "/console/");
  await page.getByLabel("Access key ID", { exact: true }).fill(admin.accessKeyId);
  await page.getByLabel("Secret access key", { exact: true }).fill("not-the-secret");
  await page.getByRole("button", { name: "Sign in" }).click();
  const err = page.locator(".error");
  await err.waitFor({ timeout: WAIT });
  assert.equal(await err.locator(".code").textContent(), "SignatureDoesNotMatch");
  assert.match(await err.textContent(), /signature we calculated does not match/i);
  await shot("signin-error");

  await page.getByLabel("Secret access key", { exact: true }).fill(admin.secretAccessKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("identity").waitFor({ timeout: WAIT });
  assert.equal(await page.getByTestId("identity").textContent(), `arn:aws:iam::${ACCOUNT}:root`);
  const stored = await page.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie]);
  assert.deepEqual(stored, [1, 0, ""], "keys live in sessionStorage only");
});

test("clusters: create one; its issuer, signing key and association count are shown", async () => {
  await page.getByText("Create a cluster").click();
  const form = page.getByTestId("create-cluster");
  await form.getByLabel("Name", { exact: true }).fill(CLUSTER);
  await form.getByRole("button", { name: "Create cluster" }).click();
  await form.locator(".ok").waitFor({ timeout: WAIT });

  const row = page.locator(`tr[data-cluster="${CLUSTER}"]`);
  await row.locator(".badge.podid").waitFor({ timeout: WAIT });
  assert.match(await row.locator(".issuer").textContent(), new RegExp(`/clusters-oidc/${CLUSTER}`));
  const kid = (await api.publicKeys(CLUSTER))[0].kid;
  await row.locator(`.keys code[title="${kid}"]`).waitFor({ timeout: WAIT });
  assert.match(await row.locator(".keys .age").textContent(), /^\d+ s$/, "the key's age, from the admin API");
  await row.locator("td.num a").waitFor({ timeout: WAIT });
  assert.equal(await row.locator("td.num").textContent(), "0");

  // Creating it again: AWS's code and message.
  await form.getByRole("button", { name: "Create cluster" }).click();
  await form.locator(".error").waitFor({ timeout: WAIT });
  assert.equal(await form.locator(".error .code").textContent(), "ResourceInUseException");
  await shot("clusters");
});

let assocId;

test("associations: create, a duplicate refused with AWS's code and message, filter", async () => {
  await ensureRole("console-app");
  await ensureRole("console-app2");
  await page.locator(`tr[data-cluster="${CLUSTER}"] a`).first().click();
  await page.getByRole("heading", { name: CLUSTER }).waitFor({ timeout: WAIT });
  await page.getByText("Create an association").click();
  const form = page.getByTestId("create-association");
  await form.getByLabel("Namespace", { exact: true }).fill("default");
  await form.getByLabel("Service account", { exact: true }).fill("app");
  await form.getByLabel("Role ARN", { exact: true }).fill(roleArn("console-app"));
  await form.getByLabel("Tags", { exact: true }).fill("team=payments");
  await form.getByRole("button", { name: "Create association" }).click();
  await form.locator(".ok").waitFor({ timeout: WAIT });
  assocId = (await form.locator(".ok a").textContent()).trim();
  assert.match(assocId, /^a-[0-9a-z]{17}$/);
  const row = page.locator(`tr[data-id="${assocId}"]`);
  await row.getByText(roleArn("console-app")).waitFor({ timeout: WAIT });

  await form.getByRole("button", { name: "Create association" }).click();
  await form.locator(".error").waitFor({ timeout: WAIT });
  assert.equal(await form.locator(".error .code").textContent(), "ResourceInUseException");
  assert.match(await form.locator(".error .message").textContent(), new RegExp(`Association already exists: ${assocId}`));
  await shot("associations");

  const filter = page.getByTestId("filter");
  await filter.getByLabel("Namespace", { exact: true }).fill("kube-system");
  await filter.getByRole("button", { name: "Filter" }).click();
  await page.getByText("No association matches the filter.").waitFor({ timeout: WAIT });
  await filter.getByLabel("Namespace", { exact: true }).fill("default");
  await filter.getByRole("button", { name: "Filter" }).click();
  await page.locator(`tr[data-id="${assocId}"]`).waitFor({ timeout: WAIT });
});

test("association: update with the rules shown inline; errors with AWS's code; tags", async () => {
  await page.locator(`tr[data-id="${assocId}"] a`).first().click();
  const upd = page.getByTestId("update-association");
  await upd.waitFor({ timeout: WAIT });
  const rules = upd.locator("ul.rules");
  assert.equal(await rules.locator("li").first().getAttribute("data-state"), "info", "untouched: the first rule is a hint");

  // A policy without disableSessionTags: the rule shows it; the server refuses it.
  await upd.getByLabel("Session policy", { exact: true }).fill('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}');
  assert.equal(await rules.locator("li").nth(2).getAttribute("data-state"), "bad");
  await upd.getByRole("button", { name: "Update association" }).click();
  await upd.locator(".error").waitFor({ timeout: WAIT });
  assert.equal(await upd.locator(".error .code").textContent(), "InvalidParameterException");
  assert.match(await upd.locator(".error .message").textContent(), /disableSessionTags/);
  await shot("association-update-error");

  await upd.getByLabel("Session policy", { exact: true }).fill("");
  assert.equal(await rules.locator("li").first().getAttribute("data-state"), "bad", "edited back to no change: the rule is unmet");
  await upd.getByLabel("Role ARN", { exact: true }).fill(roleArn("console-app2"));
  assert.equal(await rules.locator("li").first().getAttribute("data-state"), "ok");
  assert.match(await rules.locator("li").first().textContent(), /Changes: roleArn/);
  await upd.getByRole("button", { name: "Update association" }).click();
  await page.getByTestId("role-arn").getByText(roleArn("console-app2")).waitFor({ timeout: WAIT });
  assert.equal((await api.describeAssociation(CLUSTER, assocId)).roleArn, roleArn("console-app2"));

  // Tags: the one set at creation, one added, one removed.
  const tags = page.locator("section[aria-label=Tags]");
  await tags.locator('tr[data-tag="team"]').waitFor({ timeout: WAIT });
  await tags.getByLabel("Key", { exact: true }).fill("owner");
  await tags.getByLabel("Value", { exact: true }).fill("sre");
  await tags.getByRole("button", { name: "Add tag" }).click();
  await tags.locator('tr[data-tag="owner"]').waitFor({ timeout: WAIT });
  await tags.locator('tr[data-tag="team"]').getByRole("button", { name: "Remove" }).click();
  await tags.locator('tr[data-tag="team"]').waitFor({ state: "detached", timeout: WAIT });
  const a = await api.describeAssociation(CLUSTER, assocId);
  assert.deepEqual(a.tags, { owner: "sre" });
  // An aws: tag is refused: AWS's code in the tags panel.
  await tags.getByLabel("Key", { exact: true }).fill("aws:reserved");
  await tags.getByRole("button", { name: "Add tag" }).click();
  await tags.locator(".error").waitFor({ timeout: WAIT });
  assert.match(await tags.locator(".error .code").textContent(), /Exception$/);
  await shot("association");
});

test("association: role, explain and events panels answer or show the server's error", async () => {
  // Each panel either works or shows the AWS error the server gave (for a
  // server without IAM, explain or LookupEvents).
  const role = page.locator('section[aria-label="Role"]');
  if (caps.iam === true) {
    await role.getByTestId("trust-policy").waitFor({ timeout: WAIT });
    assert.match(await role.getByTestId("trust-policy").textContent(), /pods\.eks\.amazonaws\.com/);
    // Edit the trust policy: a broken document shows IAM's error; a good one is saved.
    await role.getByText("Edit trust policy").click();
    await role.getByRole("textbox").fill('{"Version":"2012-10-17","Statement":[{"Effect":"Allow"');
    await role.getByRole("button", { name: "Save trust policy" }).click();
    await role.locator(".error .code").getByText("MalformedPolicyDocument").waitFor({ timeout: WAIT });
    await shot("association-trust-error");
    await role.getByRole("textbox").fill(TRUST_WITH_TAGS);
    await role.getByRole("button", { name: "Save trust policy" }).click();
    await role.getByTestId("trust-policy").getByText("sts:TagSession").waitFor({ timeout: WAIT });
    assert.match((await api.getRole("console-app2")).AssumeRolePolicyDocument, /sts:TagSession/);
  } else {
    await role.locator(".error .code").waitFor({ timeout: WAIT });
  }
  const events = page.locator('section[aria-label="Recent credential requests"]');
  await events.locator(caps.trail === true ? "table" : ".error .code").waitFor({ timeout: WAIT });
  const explain = page.locator('section[aria-label="Explain a credential request"]');
  await explain.getByRole("button", { name: "Explain" }).click();
  await explain.locator(caps.explain === true ? "[data-testid=verdict]" : ".error .code").waitFor({ timeout: WAIT });
  await shot("association-panels");
});

test("audit trail: timeline and chart, or the server's error", async () => {
  await page.getByRole("link", { name: "Audit trail" }).click();
  await page.getByRole("heading", { name: "Audit trail" }).waitFor({ timeout: WAIT });
  if (caps.trail === true) {
    await page.getByTestId("chart").waitFor({ timeout: WAIT });
    await page.locator("table.events").waitFor({ timeout: WAIT });
  } else {
    await page.locator(".error .code").first().waitFor({ timeout: WAIT });
  }
  await shot("audit");
});

test("a credential request refused for a trust policy without sts:TagSession, fixed in the console, then allowed", async (t) => {
  const missing = Object.entries({
    "IAM (ListRoles)": caps.iam,
    "CloudTrail LookupEvents": caps.trail,
    [`the explain endpoint (POST ${"/podid/v1/explain"})`]: caps.explain,
  }).filter(([, v]) => v !== true);
  if (missing.length) {
    t.skip(`needs ${missing.map(([k, v]) => `${k}, which answered ${v.code}: ${v.message}`).join("; ")}`);
    return;
  }
  await ensureRole("console-payments", TRUST_NO_TAGS);
  const a = await api.createAssociation(CLUSTER, { namespace: "payments", serviceAccount: "api", roleArn: roleArn("console-payments") });
  await api.rest(ADMIN_SERVICE, "GET", "/podid/v1/wait", { query: [["cluster", CLUSTER], ["associationId", a.associationId]] });
  const credentials = async () => {
    const { token } = await api.mintToken(CLUSTER, { namespace: "payments", serviceAccount: "api", podName: "api-1", podUid: randomUUID() });
    return api.rest("eks-auth", "POST", `/clusters/${CLUSTER}/assume-role-for-pod-identity`, { body: { token } });
  };
  await expectApiError(credentials(), "AccessDeniedException");

  await page.goto(`${URL_}/console/#/clusters/${CLUSTER}/associations/${a.associationId}`);
  const explain = page.locator('section[aria-label="Explain a credential request"]');
  await explain.getByRole("button", { name: "Explain" }).click();
  const verdict = explain.getByTestId("verdict");
  await verdict.waitFor({ timeout: WAIT });
  assert.match(await verdict.getAttribute("class"), /denied/);
  assert.match(await verdict.textContent(), /sts:TagSession/);

  const events = page.locator('section[aria-label="Recent credential requests"]');
  await untilOK(async () => {
    await events.getByRole("button", { name: "Refresh" }).click();
    await events.locator("tr.failed .badge.failure").first().waitFor({ timeout: 1000 });
  }, "the refused request in the association's events");
  assert.match(await events.locator("tr.failed").first().textContent(), /AccessDenied/);
  await shot("flow-refused");

  // Fix the trust policy in the console.
  const role = page.locator('section[aria-label="Role"]');
  await role.getByText("Edit trust policy").click();
  await role.getByRole("textbox").fill(TRUST_WITH_TAGS);
  await role.getByRole("button", { name: "Save trust policy" }).click();
  await role.getByTestId("trust-policy").getByText("sts:TagSession").waitFor({ timeout: WAIT });

  await untilOK(credentials, "a credential request after the fix");
  await explain.getByRole("button", { name: "Explain" }).click();
  await untilOK(async () => assert.match(await verdict.getAttribute("class"), /allowed/), "explain after the fix", 5000);
  await untilOK(async () => {
    await events.getByRole("button", { name: "Refresh" }).click();
    await events.locator(".badge.success").first().waitFor({ timeout: 1000 });
  }, "the allowed request in the association's events");
  await shot("flow-allowed");

  await page.getByRole("link", { name: "Audit trail" }).click();
  const chart = page.getByTestId("chart");
  await untilOK(async () => {
    const legend = await chart.locator(".legend").textContent();
    assert.match(legend, /Success/);
    assert.match(legend, /AccessDenied/);
  }, "both outcomes in the chart");
  await shot("flow-audit");

  await page.goto(`${URL_}/console/#/clusters/${CLUSTER}/associations/${a.associationId}`);
  await page.getByRole("button", { name: "Delete association" }).click();
  await page.getByRole("button", { name: "Confirm: delete this association" }).click();
  await page.getByText(`Deleted association ${a.associationId}.`).waitFor({ timeout: WAIT });
});

// signInElsewhere signs in with creds in a fresh browser context, waits for
// the clusters page to show what they may see (the cluster, or AWS's
// AccessDenied), saves a screenshot and returns the identity shown.
async function signInElsewhere(creds, name) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  const p = await context.newPage();
  p.setDefaultTimeout(WAIT);
  p.on("pageerror", (e) => pageErrors.push(e.message));
  try {
    await p.goto(URL_ + "/console/");
    await p.getByLabel("Access key ID", { exact: true }).fill(creds.accessKeyId);
    await p.getByLabel("Secret access key", { exact: true }).fill(creds.secretAccessKey);
    if (creds.sessionToken) await p.getByLabel("Session token", { exact: true }).fill(creds.sessionToken);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByTestId("identity").waitFor();
    await p.locator(`tr[data-cluster="${CLUSTER}"], .error .code`).first().waitFor();
    await p.screenshot({ path: join(OUT, `${String(++shots).padStart(2, "0")}-${name}.png`), fullPage: true });
    return await p.getByTestId("identity").textContent();
  } finally {
    await context.close();
  }
}

test("a session's credentials sign in and see what the session may see", async () => {
  await ensureRole("console-session", TRUST_ACCOUNT);
  const xml = await (await assumer()).awsQuery("sts", "2011-06-15", "AssumeRole", { RoleArn: roleArn("console-session"), RoleSessionName: "viewer" });
  const s = xmlFields(xml, ["AccessKeyId", "SecretAccessKey", "SessionToken"]);
  const who = await signInElsewhere({ accessKeyId: s.AccessKeyId, secretAccessKey: s.SecretAccessKey, sessionToken: s.SessionToken }, "session-clusters");
  assert.match(who, /assumed-role\/console-session\/viewer$/);
});

test("an IAM user's access keys sign in", async (t) => {
  if (caps.iam !== true) {
    t.skip(`needs IAM (ListRoles answered ${caps.iam.code}: ${caps.iam.message})`);
    return;
  }
  try {
    await api.awsQuery("iam", "2010-05-08", "CreateUser", { UserName: "console-viewer" });
  } catch (err) {
    if (err.code !== "EntityAlreadyExists") throw err;
  }
  const xml = await api.awsQuery("iam", "2010-05-08", "CreateAccessKey", { UserName: "console-viewer" });
  const k = xmlFields(xml, ["AccessKeyId", "SecretAccessKey"]);
  const who = await signInElsewhere({ accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey }, "user-clusters");
  assert.equal(who, `arn:aws:iam::${ACCOUNT}:user/console-viewer`);
});

test("delete the association and the cluster", async () => {
  await page.goto(`${URL_}/console/#/clusters/${CLUSTER}/associations/${assocId}`);
  await page.getByRole("button", { name: "Delete association" }).click();
  await page.getByRole("button", { name: "Confirm: delete this association" }).click();
  await page.getByText(`Deleted association ${assocId}.`).waitFor({ timeout: WAIT });
  await page.locator(`tr[data-id="${assocId}"]`).waitFor({ state: "detached", timeout: WAIT });
  await expectApiError(api.describeAssociation(CLUSTER, assocId), "ResourceNotFoundException");
  await shot("association-deleted");

  // Gone: the detail page shows AWS's error.
  await page.goto(`${URL_}/console/#/clusters/${CLUSTER}/associations/${assocId}`);
  await page.locator(".error .code").getByText("ResourceNotFoundException").waitFor({ timeout: WAIT });

  await page.getByRole("link", { name: "Clusters" }).click();
  const row = page.locator(`tr[data-cluster="${CLUSTER}"]`);
  await row.getByRole("button", { name: "Delete" }).click();
  await row.getByRole("button", { name: "Confirm delete" }).click();
  await row.waitFor({ state: "detached", timeout: WAIT });
  await expectApiError(api.describeCluster(CLUSTER), "ResourceNotFoundException");
});

test("the page reached no other origin and raised no error", () => {
  assert.deepEqual(foreign, []);
  assert.deepEqual(pageErrors, []);
});
