// The console's shell: the session (kept in sessionStorage only), the
// header, and hash routing to the pages.

import { Api } from "./api.js";
import { h, s, errorBox } from "./ui.js";
import * as signin from "./pages/signin.js";
import * as clusters from "./pages/clusters.js";
import * as associations from "./pages/associations.js";
import * as association from "./pages/association.js";
import * as audit from "./pages/audit.js";

const SESSION_KEY = "podid.console.session";

export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY));
    return s?.accessKeyId && s?.secretAccessKey ? s : null;
  } catch {
    return null;
  }
}

function saveSession(s) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
}

function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

const routes = [
  { re: /^\/clusters$/, page: clusters, nav: "clusters" },
  { re: /^\/clusters\/([^/]+)$/, page: associations, nav: "clusters" },
  { re: /^\/clusters\/([^/]+)\/associations\/([^/]+)$/, page: association, nav: "clusters" },
  { re: /^\/audit$/, page: audit, nav: "audit" },
];

/** parseHash splits "#/path?query" into its decoded path parts and query. */
function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/clusters";
  const [path, qs = ""] = raw.split("?");
  return { path, query: new URLSearchParams(qs) };
}

/** go navigates to a console path ("/clusters/dev") with optional query. */
export function go(path, query) {
  const qs = query ? new URLSearchParams(query).toString() : "";
  location.hash = "#" + path + (qs ? "?" + qs : "");
}

// tail keeps the end of a long ARN (the role and session name matter most).
const tail = (s, n) => (s.length > n ? "…" + s.slice(-(n - 1)) : s);

let generation = 0;
let leaving = [];

// logo is logo.svg drawn inline: the header is rebuilt on each page and an
// <img> would flicker while the browser revalidates it.
function logo() {
  return s(
    "svg",
    { viewBox: "0 0 32 32", width: 22, height: 22, "aria-hidden": "true" },
    s("rect", { width: 32, height: 32, rx: 7, fill: "#1f5fbf" }),
    s("circle", { cx: 16, cy: 12, r: 5, fill: "none", stroke: "#fff", "stroke-width": 2.5 }),
    s("path", { d: "M8 26c1.5-5 4.5-7 8-7s6.5 2 8 7", fill: "none", stroke: "#fff", "stroke-width": 2.5, "stroke-linecap": "round" }),
  );
}

function header(session, nav) {
  const link = (href, label, key) =>
    h("a", { href, class: nav === key ? "active" : null, "aria-current": nav === key ? "page" : null }, label);
  return h(
    "header",
    { class: "top" },
    h("a", { class: "brand", href: "#/clusters" }, logo(), "podid"),
    session ? h("nav", {}, link("#/clusters", "Clusters", "clusters"), link("#/audit", "Audit trail", "audit")) : h("nav"),
    session
      ? h(
          "div",
          { class: "who" },
          h("span", { class: "arn", title: session.identity?.Arn ?? "", "data-testid": "identity" }, tail(session.identity?.Arn ?? session.accessKeyId, 56)),
          h("span", { class: "region" }, session.region),
          h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"),
        )
      : null,
  );
}

function signOut() {
  clearSession();
  location.hash = "#/clusters";
  render();
}

async function render() {
  const gen = ++generation;
  for (const fn of leaving) fn();
  leaving = [];
  const body = document.body;
  const main = h("main", { id: "main" });
  const session = loadSession();
  const { path, query } = parseHash();
  const route = routes.find((r) => r.re.test(path));
  body.replaceChildren(header(session, route?.nav), main);
  window.scrollTo(0, 0);

  if (!session) {
    document.title = "Sign in · podid";
    main.append(
      signin.render({
        onSignIn: (s) => {
          saveSession(s);
          render();
        },
      }),
    );
    return;
  }
  if (!route) {
    main.append(h("h1", {}, "Not found"), h("p", {}, "No page at ", h("code", {}, path), ". ", h("a", { href: "#/clusters" }, "Clusters")));
    return;
  }
  const params = path.match(route.re).slice(1).map(decodeURIComponent);
  const ctx = {
    api: new Api(session),
    session,
    params,
    query,
    go,
    onLeave: (fn) => leaving.push(fn),
    current: () => gen === generation,
  };
  try {
    const node = await route.page.render(ctx);
    if (gen === generation) main.append(node);
  } catch (err) {
    if (gen === generation) main.append(errorBox(err));
  }
}

window.addEventListener("hashchange", render);
render();
