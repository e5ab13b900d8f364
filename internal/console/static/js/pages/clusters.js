// Clusters: each cluster's token issuer (podid's own or a registered
// cluster's), its signing key IDs and their age, and its association
// count; create and delete clusters.

import { h, field, onSubmit, fill, table, fmtAge, fmtTime, confirmButton, errorBox, pool } from "../ui.js";

export async function render(ctx) {
  const { api, session } = ctx;
  const list = h("div", { class: "list" });
  const account = session.identity?.Account || "000000000000";

  const create = onSubmit(
    h(
      "form",
      { class: "inline-form", "data-testid": "create-cluster" },
      field("Name", h("input", { name: "name", required: true, pattern: "[0-9A-Za-z][A-Za-z0-9\\-_]*", maxlength: 100, spellcheck: "false" })),
      field("Cluster role ARN", h("input", { name: "roleArn", required: true, value: `arn:aws:iam::${account}:role/eks-cluster`, spellcheck: "false" })),
      field("Subnet IDs", h("input", { name: "subnets", value: "subnet-1,subnet-2", spellcheck: "false" }), "Comma-separated; stored and echoed."),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create cluster")),
      h("div", { class: "result" }),
    ),
    async (data) => {
      const name = data.get("name").trim();
      await api.createCluster({
        name,
        roleArn: data.get("roleArn").trim(),
        resourcesVpcConfig: { subnetIds: data.get("subnets").split(",").map((x) => x.trim()).filter(Boolean) },
      });
      load();
      return h("div", { class: "ok", role: "status" }, "Created cluster ", h("a", { href: `#/clusters/${encodeURIComponent(name)}` }, name), ".");
    },
  );

  let pageTokens = [undefined];
  async function load(token) {
    if (!token) pageTokens = [undefined];
    await fill(list, async () => {
      const out = await api.listClusters(token);
      const names = out.clusters ?? [];
      const rows = names.map((name) => row(api, name, load));
      const more = out.nextToken
        ? h("button", { type: "button", onclick: () => load(out.nextToken) }, "Next page")
        : null;
      const first = token ? h("button", { type: "button", onclick: () => load() }, "First page") : null;
      return [
        table(["Name", "Status", "Issuer", "Signing keys (age)", "Associations", "Created", ""], rows.map((r) => r.tr), {
          empty: "No clusters yet: create one above.",
          cls: "clusters",
        }),
        h("div", { class: "pager" }, first, more),
      ];
    });
    const rows = [...list.querySelectorAll("tr[data-cluster]")];
    await pool(rows, 6, (tr) => tr.load());
  }

  const root = h(
    "section",
    { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Clusters"), h("button", { type: "button", onclick: () => load() }, "Refresh")),
    h("details", { class: "card" }, h("summary", {}, "Create a cluster"), create),
    list,
  );
  document.title = "Clusters · podid";
  load();
  return root;
}

function row(api, name, reload) {
  const cells = {
    status: h("td", {}, "…"),
    issuer: h("td", { class: "issuer" }, "…"),
    keys: h("td", { class: "keys" }, "…"),
    count: h("td", { class: "num" }, "…"),
    created: h("td", {}, "…"),
  };
  const del = confirmButton("Delete", async () => {
    try {
      await api.deleteCluster(name);
      reload();
    } catch (err) {
      tr.after(h("tr", {}, h("td", { colspan: 7 }, errorBox(err, `Deleting ${name}`))));
    }
  });
  const tr = h(
    "tr",
    { "data-cluster": name },
    h("td", {}, h("a", { href: `#/clusters/${encodeURIComponent(name)}` }, name)),
    cells.status,
    cells.issuer,
    cells.keys,
    cells.count,
    cells.created,
    h("td", { class: "row-actions" }, del),
  );
  tr.load = () =>
    Promise.all([
      fill(cells.status, async () => {
        const c = await api.describeCluster(name);
        cells.created.textContent = fmtTime(c.createdAt);
        return h("span", { class: `badge ${String(c.status).toLowerCase()}` }, c.status);
      }),
      issuerCells(api, name, cells),
      fill(cells.count, async () => {
        const { count, more } = await api.countAssociations(name);
        return h("a", { href: `#/clusters/${encodeURIComponent(name)}` }, more ? `${count}+` : String(count));
      }),
    ]);
  return { tr };
}

// issuerCells fills the issuer and keys cells from the admin API's issuer
// document (issuer kind, URL, key IDs with their creation time) and, for a
// podid-issued cluster, its public JWKS.
async function issuerCells(api, name, cells) {
  let doc = null;
  let docErr = null;
  try {
    doc = await api.issuer(name);
  } catch (err) {
    docErr = err;
  }
  await fill(cells.issuer, async () => {
    if (!doc) throw docErr;
    return issuerView(doc);
  }, "Issuer");
  await fill(cells.keys, async () => {
    let keys = (doc?.keys ?? []).map((k) => ({ kid: k.keyId, createdAt: k.createdAt }));
    if (!keys.length && doc?.jwks?.keys) keys = doc.jwks.keys.map((k) => ({ kid: k.kid }));
    if (!keys.length && (doc === null || doc.podidIssued)) keys = (await api.publicKeys(name)).map((k) => ({ kid: k.kid }));
    if (!keys.length) return h("span", { class: "muted" }, doc?.jwksUrl ? "fetched from the JWKS URL" : "none");
    return h("ul", { class: "plain" }, keys.map(keyItem));
  });
}

function issuerView(doc) {
  if (doc.podidIssued) {
    return [h("span", { class: "badge podid" }, "podid"), " ", h("small", { class: "url" }, doc.issuerUrl)];
  }
  return [
    h("span", { class: "badge external" }, "registered"),
    " ",
    h("small", { class: "url" }, doc.issuerUrl),
    doc.jwksUrl ? h("div", {}, h("small", { class: "muted" }, "JWKS: ", doc.jwksUrl)) : null,
  ];
}

function keyItem(k) {
  const short = k.kid && k.kid.length > 14 ? k.kid.slice(0, 12) + "…" : k.kid || "(no kid)";
  return h(
    "li",
    {},
    h("code", { title: k.kid ?? "" }, short),
    " ",
    k.createdAt !== undefined ? h("span", { class: "age", title: `made ${fmtTime(k.createdAt)}` }, fmtAge(k.createdAt)) : null,
  );
}
