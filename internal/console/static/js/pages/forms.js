// The association form, for create and update, with EKS's rules shown
// next to the fields and checked as the user types (spec §4.3, §5):
// - an update must change at least one of role, target role,
//   disableSessionTags and policy;
// - an empty target role in an update removes it (sent as "");
// - a policy needs disableSessionTags set to true;
// - namespace and service account cannot change (delete and re-create).
// The server stays the judge: the form is sent as is and its answer shown.

import { h, field, onSubmit } from "../ui.js";

function rule(text) {
  const li = h("li", { class: "rule" }, h("span", { class: "mark", "aria-hidden": "true" }), h("span", { class: "text" }, text));
  li.set = (state, note) => {
    li.dataset.state = state; // ok | bad | info
    li.querySelector(".mark").textContent = state === "ok" ? "✓" : state === "bad" ? "✗" : "•";
    li.querySelector(".text").textContent = note ?? text;
  };
  li.set("info");
  return li;
}

/** parseTags reads "key=value" lines. */
export function parseTags(text) {
  const tags = {};
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t) continue;
    const i = t.indexOf("=");
    tags[(i < 0 ? t : t.slice(0, i)).trim()] = i < 0 ? "" : t.slice(i + 1).trim();
  }
  return tags;
}

/**
 * associationForm: mode "create" or "update"; current is the association
 * (update); onSubmit(input) sends it and returns a message.
 */
export function associationForm({ mode, current = {}, account = "000000000000", onSubmit: send }) {
  const update = mode === "update";
  const inputs = {
    namespace: h("input", { name: "namespace", required: true, spellcheck: "false" }),
    serviceAccount: h("input", { name: "serviceAccount", required: true, spellcheck: "false" }),
    roleArn: h("input", {
      name: "roleArn",
      required: !update,
      spellcheck: "false",
      value: update ? current.roleArn : "",
      placeholder: `arn:aws:iam::${account}:role/NAME`,
    }),
    targetRoleArn: h("input", { name: "targetRoleArn", spellcheck: "false", value: current.targetRoleArn ?? "", placeholder: "optional: arn:aws:iam::ACCOUNT:role/NAME" }),
    disableSessionTags: h("input", { name: "disableSessionTags", type: "checkbox", checked: Boolean(current.disableSessionTags) }),
    policy: h("textarea", { name: "policy", rows: 4, spellcheck: "false", placeholder: "optional session policy (JSON)" }),
    tags: h("textarea", { name: "tags", rows: 4, spellcheck: "false", placeholder: "key=value, one per line" }),
  };
  inputs.policy.value = current.policy ?? "";

  const rules = {
    change: rule("An update must change at least one of role, target role, session tags and policy."),
    target: rule("Empty the target role to remove it (sent as targetRoleArn: \"\")."),
    policy: rule("A policy needs session tags disabled (disableSessionTags: true)."),
    fixed: rule("Namespace and service account cannot change: delete the association and create a new one."),
  };
  const preview = h("pre", { class: "preview", "aria-label": "Request body" });

  // input returns the request members the form would send.
  function input() {
    const v = {
      roleArn: inputs.roleArn.value.trim(),
      targetRoleArn: inputs.targetRoleArn.value.trim(),
      disableSessionTags: inputs.disableSessionTags.checked,
      policy: inputs.policy.value.trim(),
    };
    if (!update) {
      const out = { namespace: inputs.namespace.value.trim(), serviceAccount: inputs.serviceAccount.value.trim(), roleArn: v.roleArn };
      if (v.targetRoleArn) out.targetRoleArn = v.targetRoleArn;
      if (v.disableSessionTags) out.disableSessionTags = true;
      if (v.policy) out.policy = v.policy;
      const tags = parseTags(inputs.tags.value);
      if (Object.keys(tags).length) out.tags = tags;
      return out;
    }
    const out = {};
    if (v.roleArn !== (current.roleArn ?? "")) out.roleArn = v.roleArn;
    if (v.targetRoleArn !== (current.targetRoleArn ?? "")) out.targetRoleArn = v.targetRoleArn;
    if (v.disableSessionTags !== Boolean(current.disableSessionTags)) out.disableSessionTags = v.disableSessionTags;
    if (v.policy !== (current.policy ?? "")) out.policy = v.policy;
    return out;
  }

  let touched = false; // the no-change rule is a hint until the user edits

  function check() {
    const body = input();
    const policy = update ? body.policy ?? current.policy ?? "" : body.policy ?? "";
    const noTags = update ? body.disableSessionTags ?? Boolean(current.disableSessionTags) : Boolean(body.disableSessionTags);
    if (update) {
      const n = Object.keys(body).length;
      rules.change.set(n ? "ok" : touched ? "bad" : "info", n ? `Changes: ${Object.keys(body).join(", ")}.` : undefined);
      if (current.targetRoleArn && body.targetRoleArn === "") rules.target.set("ok", "The target role will be removed (targetRoleArn: \"\").");
      else rules.target.set("info");
    }
    rules.policy.set(policy ? (noTags ? "ok" : "bad") : "info");
    preview.textContent = JSON.stringify(body, null, 2);
  }

  const form = h(
    "form",
    { class: "assoc-form", "data-testid": `${mode}-association` },
    update ? null : h("div", { class: "row2" }, field("Namespace", inputs.namespace), field("Service account", inputs.serviceAccount)),
    h(
      "div",
      { class: update ? "" : "row2" },
      field("Role ARN", inputs.roleArn, "The role the pods get (its trust policy must allow pods.eks.amazonaws.com)."),
      field("Target role ARN", inputs.targetRoleArn, update ? "Optional. Empty removes the target role." : "Optional: a role assumed with the first role's session."),
    ),
    h("label", { class: "check" }, inputs.disableSessionTags, " Disable session tags"),
    h("div", { class: update ? "" : "row2" }, field("Session policy", inputs.policy), update ? null : field("Tags", inputs.tags)),
    h("ul", { class: "rules", "aria-label": "Rules" }, update ? [rules.change, rules.target, rules.policy, rules.fixed] : [rules.policy]),
    h("details", { class: "body" }, h("summary", {}, "Request body"), preview),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, update ? "Update association" : "Create association")),
    h("div", { class: "result" }),
  );
  form.addEventListener("input", () => {
    touched = true;
    check();
  });
  check();
  return onSubmit(form, async () => send(input()));
}
