// A cluster's pod identity associations: filter by namespace and service
// account, create, and open one.

import { h, field, onSubmit, fill, table, fmtTime, pool } from "../ui.js";
import { associationForm } from "./forms.js";

export async function render(ctx) {
  const { api, params, query, go } = ctx;
  const [cluster] = params;
  const base = `/clusters/${encodeURIComponent(cluster)}`;
  const ns = query.get("namespace") ?? "";
  const sa = query.get("serviceAccount") ?? "";
  document.title = `${cluster} · podid`;

  const info = h("div", { class: "cluster-info" });
  fill(info, async () => {
    const c = await api.describeCluster(cluster);
    return h(
      "dl",
      { class: "facts" },
      h("dt", {}, "ARN"), h("dd", {}, h("code", {}, c.arn)),
      h("dt", {}, "Status"), h("dd", {}, c.status),
      h("dt", {}, "OIDC issuer"), h("dd", {}, h("code", {}, c.identity?.oidc?.issuer ?? "")),
      h("dt", {}, "Created"), h("dd", {}, fmtTime(c.createdAt)),
    );
  }, "Cluster");

  const filter = h(
    "form",
    { class: "filter", role: "search", "data-testid": "filter" },
    field("Namespace", h("input", { name: "namespace", value: ns, spellcheck: "false" })),
    field("Service account", h("input", { name: "serviceAccount", value: sa, spellcheck: "false" })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter"), ns || sa ? h("a", { href: "#" + base, class: "button" }, "Clear") : null),
  );
  filter.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const d = new FormData(filter);
    const q = {};
    for (const k of ["namespace", "serviceAccount"]) if (d.get(k).trim()) q[k] = d.get(k).trim();
    go(base, q);
  });

  const list = h("div", { class: "list" });
  async function load(token) {
    await fill(list, async () => {
      const out = await api.listAssociations(cluster, { namespace: ns, serviceAccount: sa, nextToken: token });
      const items = out.associations ?? [];
      const rows = items.map((a) => row(api, base, a));
      return [
        table(["Association", "Namespace", "Service account", "Role", "Target role", "Session tags", "Modified"], rows, {
          empty: ns || sa ? "No association matches the filter." : "No associations yet: create one above.",
          cls: "associations",
        }),
        h(
          "div",
          { class: "pager" },
          token ? h("button", { type: "button", onclick: () => load() }, "First page") : null,
          out.nextToken ? h("button", { type: "button", onclick: () => load(out.nextToken) }, "Next page") : null,
        ),
      ];
    });
    await pool([...list.querySelectorAll("tr[data-id]")], 6, (tr) => tr.load());
  }

  const create = associationForm({
    mode: "create",
    account: ctx.session.identity?.Account,
    onSubmit: async (input) => {
      const a = await api.createAssociation(cluster, input);
      load();
      return h(
        "div",
        { class: "ok", role: "status" },
        "Created ",
        h("a", { href: `#${base}/associations/${encodeURIComponent(a.associationId)}` }, a.associationId),
        ` for ${a.namespace}/${a.serviceAccount}.`,
      );
    },
  });

  load();
  return h(
    "section",
    { class: "page" },
    h("nav", { class: "crumbs" }, h("a", { href: "#/clusters" }, "Clusters"), " › ", cluster),
    h("div", { class: "page-head" }, h("h1", {}, cluster), h("button", { type: "button", onclick: () => load() }, "Refresh")),
    query.get("deleted") ? h("div", { class: "ok", role: "status" }, `Deleted association ${query.get("deleted")}.`) : null,
    info,
    h("details", { class: "card" }, h("summary", {}, "Create an association"), create),
    h("h2", {}, "Pod identity associations"),
    filter,
    list,
  );
}

function row(api, base, a) {
  const cells = {
    role: h("td", { class: "arn" }, "…"),
    target: h("td", { class: "arn" }, "…"),
    tags: h("td", {}, "…"),
    modified: h("td", {}, "…"),
  };
  const tr = h(
    "tr",
    { "data-id": a.associationId },
    h("td", {}, h("a", { href: `#${base}/associations/${encodeURIComponent(a.associationId)}` }, h("code", {}, a.associationId))),
    h("td", {}, a.namespace),
    h("td", {}, a.serviceAccount),
    cells.role,
    cells.target,
    cells.tags,
    cells.modified,
  );
  tr.load = async () => {
    try {
      const d = await api.describeAssociation(a.clusterName, a.associationId);
      cells.role.replaceChildren(h("code", {}, d.roleArn));
      cells.target.replaceChildren(d.targetRoleArn ? h("code", {}, d.targetRoleArn) : h("span", { class: "muted" }, "—"));
      cells.tags.textContent = d.disableSessionTags ? "disabled" : "on";
      cells.modified.textContent = fmtTime(d.modifiedAt);
    } catch (err) {
      for (const c of Object.values(cells)) c.textContent = "";
      cells.role.replaceChildren(h("span", { class: "error-inline" }, `${err.code}: ${err.message}`));
    }
  };
  return tr;
}
