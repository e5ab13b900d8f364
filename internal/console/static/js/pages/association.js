// One association: its settings (update, delete, tags), its role and
// target role with their trust policies (IAM GetRole, editable with
// UpdateAssumeRolePolicy), the "explain" answer for a chosen pod, and its
// recent credential events (CloudTrail LookupEvents).

import { roleName } from "../api.js";
import { h, field, onSubmit, fill, table, fmtTime, pretty, confirmButton, errorBox } from "../ui.js";
import { associationForm } from "./forms.js";
import { eventsTable } from "./eventview.js";
import { CREDENTIAL_EVENT, concerns, lookupAll, mergeEvents } from "../events.js";

export async function render(ctx) {
  const { api, params, go } = ctx;
  const [cluster, id] = params;
  const clusterPath = `/clusters/${encodeURIComponent(cluster)}`;
  document.title = `${id} · podid`;
  const a = await api.describeAssociation(cluster, id);
  const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

  const facts = h(
    "dl",
    { class: "facts", "data-testid": "association-facts" },
    fact("ARN", h("code", {}, a.associationArn)),
    fact("Cluster", h("a", { href: "#" + clusterPath }, a.clusterName)),
    fact("Namespace", a.namespace),
    fact("Service account", a.serviceAccount),
    fact("Role", h("code", { "data-testid": "role-arn" }, a.roleArn)),
    fact("Target role", a.targetRoleArn ? h("code", {}, a.targetRoleArn) : h("span", { class: "muted" }, "none")),
    a.externalId ? fact("External ID", h("code", {}, a.externalId)) : null,
    fact("Session tags", a.disableSessionTags ? "disabled" : "on"),
    fact("Session policy", a.policy ? h("pre", { class: "json" }, pretty(a.policy)) : h("span", { class: "muted" }, "none")),
    a.ownerArn ? fact("Owner", h("code", {}, a.ownerArn)) : null,
    fact("Created", fmtTime(a.createdAt)),
    fact("Modified", fmtTime(a.modifiedAt)),
  );

  const updateForm = associationForm({
    mode: "update",
    current: a,
    account: ctx.session.identity?.Account,
    onSubmit: async (input) => {
      await api.updateAssociation(cluster, id, input);
      rerender();
    },
  });

  const del = confirmButton("Delete association", async () => {
    try {
      await api.deleteAssociation(cluster, id);
      go(clusterPath, { deleted: id });
    } catch (err) {
      delBox.replaceChildren(errorBox(err));
    }
  }, { confirmLabel: "Confirm: delete this association" });
  const delBox = h("div", { class: "result" });

  return h(
    "section",
    { class: "page" },
    h(
      "nav",
      { class: "crumbs" },
      h("a", { href: "#/clusters" }, "Clusters"),
      " › ",
      h("a", { href: "#" + clusterPath }, cluster),
      " › ",
      id,
    ),
    h("div", { class: "page-head" }, h("h1", {}, `${a.namespace}/${a.serviceAccount}`, " ", h("small", { class: "muted" }, id)), h("div", {}, del)),
    delBox,
    h(
      "div",
      { class: "cols" },
      h(
        "div",
        {},
        card("Association", facts),
        card("Update", updateForm),
        card("Tags", tagsPanel(api, a)),
      ),
      h(
        "div",
        {},
        card("Explain a credential request", explainPanel(api, a)),
        card("Recent credential requests", eventsPanel(api, a)),
      ),
    ),
    h("h2", {}, "Roles and trust policies"),
    h(
      "div",
      { class: "cols" },
      rolePanel(api, "Role", a.roleArn),
      a.targetRoleArn ? rolePanel(api, "Target role", a.targetRoleArn) : card("Target role", h("p", { class: "muted" }, "No target role.")),
    ),
  );
}

const fact = (k, v) => [h("dt", {}, k), h("dd", {}, v)];

function card(title, ...body) {
  return h("section", { class: "card", "aria-label": title }, h("h3", {}, title), ...body);
}

function tagsPanel(api, a) {
  const box = h("div", { class: "tags" });
  const load = () =>
    fill(box, async () => {
      const tags = await api.listTags(a.associationArn);
      const keys = Object.keys(tags).sort();
      return table(
        ["Key", "Value", ""],
        keys.map((k) =>
          h(
            "tr",
            { "data-tag": k },
            h("td", {}, h("code", {}, k)),
            h("td", {}, tags[k]),
            h("td", { class: "row-actions" }, h("button", { type: "button", class: "link", onclick: () => untag(k) }, "Remove")),
          ),
        ),
        { empty: "No tags." },
      );
    });
  const untag = async (k) => {
    try {
      await api.untagResource(a.associationArn, [k]);
      load();
    } catch (err) {
      box.prepend(errorBox(err));
    }
  };
  const add = onSubmit(
    h(
      "form",
      { class: "inline-form", "data-testid": "add-tag" },
      field("Key", h("input", { name: "key", required: true, spellcheck: "false" })),
      field("Value", h("input", { name: "value", spellcheck: "false" })),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Add tag")),
      h("div", { class: "result" }),
    ),
    async (d) => {
      await api.tagResource(a.associationArn, { [d.get("key").trim()]: d.get("value") });
      add.reset();
      load();
    },
  );
  load();
  return [box, add];
}

function rolePanel(api, title, arn) {
  const name = roleName(arn);
  const body = h("div", {});
  const load = () =>
    fill(body, async () => {
      if (!name) return h("p", { class: "muted" }, `${arn} is not a role ARN.`);
      const role = await api.getRole(name);
      const editor = h("textarea", { name: "document", rows: 10, spellcheck: "false", "aria-label": `${title} trust policy` });
      editor.value = pretty(role.AssumeRolePolicyDocument ?? "");
      const edit = onSubmit(
        h(
          "form",
          { class: "trust-edit", "data-testid": "trust-edit" },
          editor,
          h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save trust policy")),
          h("div", { class: "result" }),
        ),
        async (d) => {
          await api.updateAssumeRolePolicy(name, d.get("document"));
          load();
        },
      );
      return [
        h(
          "dl",
          { class: "facts" },
          fact("ARN", h("code", {}, role.Arn)),
          fact("Role ID", h("code", {}, role.RoleId ?? "")),
          fact("Created", fmtTime(role.CreateDate)),
          role.Description ? fact("Description", role.Description) : null,
        ),
        h("h4", {}, "Trust policy"),
        h("pre", { class: "json", "data-testid": "trust-policy" }, pretty(role.AssumeRolePolicyDocument ?? "")),
        h("details", {}, h("summary", {}, "Edit trust policy"), edit),
      ];
    }, `IAM GetRole ${name}`);
  load();
  return card(title, h("p", {}, h("code", {}, arn)), body);
}

function explainPanel(api, a) {
  const out = h("div", { class: "explain-result", "aria-live": "polite" });
  const form = onSubmit(
    h(
      "form",
      { class: "inline-form", "data-testid": "explain" },
      field("Pod name", h("input", { name: "podName", required: true, value: `${a.serviceAccount}-pod`, spellcheck: "false" })),
      field("Pod UID", h("input", { name: "podUid", required: true, value: crypto.randomUUID(), spellcheck: "false" })),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Explain")),
      h("div", { class: "result" }),
    ),
    async (d) => {
      out.replaceChildren();
      const answer = await api.explain({
        clusterName: a.clusterName,
        associationId: a.associationId,
        namespace: a.namespace,
        serviceAccount: a.serviceAccount,
        podName: d.get("podName").trim(),
        podUid: d.get("podUid").trim(),
      });
      out.replaceChildren(explainView(answer));
    },
  );
  return [
    h("p", { class: "muted" }, `Would a pod of ${a.namespace}/${a.serviceAccount} get credentials now? If not, which statement decides it.`),
    form,
    out,
  ];
}

// explainView shows the explain endpoint's answer: the verdict, the
// reason, the deciding policy and statement (a document, a name or an
// index), and whatever else it says.
function explainView(x) {
  const known = new Set(["allowed", "decision", "reason", "statement", "policy"]);
  const rest = Object.entries(x).filter(([k, v]) => !known.has(k) && v !== null && v !== undefined && v !== "");
  const given = (v) => v !== undefined && v !== null && v !== "";
  return h(
    "div",
    { class: `verdict ${x.allowed ? "allowed" : "denied"}`, "data-testid": "verdict" },
    h("p", { class: "headline" }, x.allowed ? "✓ Would get credentials" : "✗ Would be refused", x.decision ? h("span", { class: "muted" }, ` (${x.decision})`) : null),
    x.reason ? h("p", { class: "reason" }, x.reason) : null,
    given(x.policy) ? h("div", {}, h("h4", {}, "Deciding policy"), valueView(x.policy)) : null,
    given(x.statement) ? h("div", {}, h("h4", {}, "Deciding statement"), valueView(typeof x.statement === "number" ? `Statement[${x.statement}]` : x.statement)) : null,
    rest.length ? h("dl", { class: "facts" }, rest.map(([k, v]) => fact(k, valueView(v)))) : null,
  );
}

// valueView shows a JSON document (object, or text holding one) indented,
// anything else as text.
function valueView(v) {
  if (typeof v === "string" && !/^\s*[[{]/.test(v)) return h("code", {}, v);
  if (typeof v !== "object" && typeof v !== "string") return h("code", {}, String(v));
  return h("pre", { class: "json" }, pretty(v));
}

function eventsPanel(api, a) {
  const box = h("div", {});
  const load = () =>
    fill(box, async () => {
      // The trail may list the association as an event's resource; if not,
      // the newest credential requests of every association are searched.
      const start = new Date(Date.now() - 24 * 3600 * 1000);
      const [byResource, byName] = await Promise.all([
        lookupAll(api, { attribute: { key: "ResourceName", value: a.associationArn }, start }, 2),
        lookupAll(api, { attribute: { key: "EventName", value: CREDENTIAL_EVENT }, start }, 4),
      ]);
      const truncated = byName.truncated;
      const mine = mergeEvents(byResource.events, byName.events)
        .filter((ev) => ev.name === CREDENTIAL_EVENT && concerns(ev, a))
        .slice(0, 20);
      return [
        eventsTable(mine, { compact: true, empty: "No credential requests for this association in the last 24 hours." }),
        truncated ? h("p", { class: "muted small" }, "Only the newest 200 credential events of all associations were searched.") : null,
      ];
    }, "CloudTrail LookupEvents");
  load();
  return [h("div", { class: "actions right" }, h("button", { type: "button", onclick: load }, "Refresh")), box];
}
