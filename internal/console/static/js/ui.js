// Small DOM helpers. Text always goes in as text nodes: nothing from an
// API response is ever parsed as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children, isSVG) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (!isSVG && (k === "value" || k === "checked" || k === "disabled" || k === "selected")) el[k] = v;
    else el.setAttribute(k === "className" ? "class" : k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** h creates an HTML element: h("a", {href: "#"}, "text", child, ...). */
export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children, false);

/** s creates an SVG element. */
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children, true);

/** errorBox shows an API error as AWS spells it: code, message, request ID. */
export function errorBox(err, context) {
  const code = err?.code || err?.name || "Error";
  return h(
    "div",
    { class: "error", role: "alert" },
    context ? h("span", { class: "ctx" }, context + ": ") : null,
    h("strong", { class: "code" }, code),
    " ",
    h("span", { class: "message" }, err?.message || ""),
    err?.status || err?.requestId
      ? h("small", {}, ` (HTTP ${err.status ?? "?"}${err.requestId ? ", request " + err.requestId : ""})`)
      : null,
  );
}

/** slot replaces el's children with the result of an async loader, or its error. */
export async function fill(el, loader, context) {
  el.replaceChildren(h("span", { class: "muted" }, "loading…"));
  try {
    const out = await loader();
    el.replaceChildren(...[out].flat().filter((x) => x !== null && x !== undefined));
  } catch (err) {
    el.replaceChildren(errorBox(err, context));
  }
}

/**
 * runForm runs an async action for a form's submit: the button is disabled
 * meanwhile and the result or error goes in the form's .result element.
 */
export function onSubmit(form, action) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = form.querySelector(".result");
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    out?.replaceChildren();
    try {
      const msg = await action(new FormData(form));
      if (msg && out) out.replaceChildren(msg instanceof Node ? msg : h("div", { class: "ok", role: "status" }, msg));
    } catch (err) {
      if (out) out.replaceChildren(errorBox(err));
      else throw err;
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return form;
}

let hints = 0;

/** field is a labelled input, with a hint that describes it (not part of its name). */
export function field(label, input, hint) {
  let note = null;
  if (hint) {
    note = h("small", { class: "hint", id: `hint-${++hints}` }, hint);
    input.setAttribute("aria-describedby", note.id);
  }
  return h("div", { class: "field" }, h("label", {}, h("span", { class: "label" }, label), input), note);
}

/**
 * confirmButton is a button that asks once more in place ("Confirm
 * delete?") before running action.
 */
export function confirmButton(label, action, { confirmLabel = `Confirm ${label.toLowerCase()}`, cls = "danger" } = {}) {
  let armed = false;
  let timer;
  const b = h("button", { type: "button", class: cls }, label);
  b.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      b.textContent = confirmLabel;
      b.classList.add("armed");
      timer = setTimeout(() => {
        armed = false;
        b.textContent = label;
        b.classList.remove("armed");
      }, 5000);
      return;
    }
    clearTimeout(timer);
    b.disabled = true;
    try {
      await action();
    } finally {
      b.disabled = false;
      armed = false;
      b.textContent = label;
      b.classList.remove("armed");
    }
  });
  return b;
}

/** fmtTime shows a date in local time, to the second. */
export function fmtTime(d) {
  if (d === undefined || d === null || d === "") return "";
  const t = typeof d === "number" ? new Date(d * 1000) : new Date(d);
  if (Number.isNaN(t.getTime())) return String(d);
  const p = (n) => String(n).padStart(2, "0");
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}`;
}

/** fmtAge shows how long ago a date was: "42 s", "5 min", "3 h", "12 d". */
export function fmtAge(d, now = Date.now()) {
  const t = typeof d === "number" ? d * 1000 : new Date(d).getTime();
  if (Number.isNaN(t)) return "";
  const sec = Math.max(0, Math.round((now - t) / 1000));
  if (sec < 90) return `${sec} s`;
  if (sec < 90 * 60) return `${Math.round(sec / 60)} min`;
  if (sec < 36 * 3600) return `${Math.round(sec / 3600)} h`;
  return `${Math.round(sec / 86400)} d`;
}

/** pretty indents a JSON document given as text (as is when not JSON). */
export function pretty(text) {
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** table builds a table from column headings and rows of cells. */
export function table(headings, rows, { empty = "Nothing here yet.", cls = "" } = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: cls },
      h("thead", {}, h("tr", {}, headings.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headings.length, class: "muted" }, empty))),
    ),
  );
}

/** pool runs async fn over items with at most n in flight. */
export async function pool(items, n, fn) {
  let i = 0;
  const worker = async () => {
    while (i < items.length) {
      const k = i++;
      await fn(items[k], k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}
