// Sign in with access keys: the admin identity's, an IAM user's, or a
// session's (with its token). The keys are checked with STS
// GetCallerIdentity and kept in sessionStorage only (gone when the tab
// closes; autocomplete is off so that no password manager stores them);
// every request is signed with them in the browser.

import { Api } from "../api.js";
import { h, field, onSubmit } from "../ui.js";

export function render({ onSignIn }) {
  const form = h(
    "form",
    { class: "card signin", autocomplete: "off", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to podid"),
    h(
      "p",
      { class: "muted" },
      "Use access keys: podid's admin keys (printed by ",
      h("code", {}, "podid serve"),
      " and kept in ",
      h("code", {}, "admin-credentials.json"),
      "), an IAM user's, or a session's with its token. You see what these credentials may see.",
    ),
    field("Access key ID", h("input", { name: "accessKeyId", required: true, spellcheck: "false", autocapitalize: "off", autocomplete: "off" })),
    field("Secret access key", h("input", { name: "secretAccessKey", type: "password", required: true, autocomplete: "off" })),
    field(
      "Session token",
      h("textarea", { name: "sessionToken", rows: 2, spellcheck: "false" }),
      "Only for temporary credentials (from STS or a pod).",
    ),
    field("Region", h("input", { name: "region", value: "us-east-1", required: true, spellcheck: "false" }), "The SigV4 signing region: the console shows and makes this region's clusters."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in")),
    h("div", { class: "result" }),
    h("p", { class: "muted small" }, "Keys stay in this tab's session storage and are never sent: requests carry signatures only."),
  );
  if (!globalThis.crypto?.subtle) {
    // WebCrypto exists only in secure contexts: https, or loopback http.
    form.querySelector(".result").append(
      h("div", { class: "error", role: "alert" }, "This page is not a secure context (HTTPS or loopback), so the browser offers no WebCrypto to sign requests with. Open the console over HTTPS or on 127.0.0.1."),
    );
    form.querySelector("button").disabled = true;
  }
  return onSubmit(form, async (data) => {
    const creds = {
      accessKeyId: data.get("accessKeyId").trim(),
      secretAccessKey: data.get("secretAccessKey").trim(),
      sessionToken: data.get("sessionToken").trim(),
      region: data.get("region").trim(),
    };
    const identity = await new Api(creds).getCallerIdentity();
    onSignIn({ ...creds, identity });
  });
}
