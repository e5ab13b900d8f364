// The audit trail: podid's events through CloudTrail LookupEvents, newest
// first, with CloudTrail's lookup attribute (one at a time, as CloudTrail
// takes), a time range and a failures-only switch; live (polled every few
// seconds) by default; and a chart of credential requests per minute by
// outcome.

import { h, field, fill, errorBox } from "../ui.js";
import { CREDENTIAL_EVENT, SUCCESS, lookupAll, parseEvent, perMinute } from "../events.js";
import { perMinuteChart } from "../chart.js";
import { eventsTable } from "./eventview.js";

const ATTRIBUTES = ["EventName", "Username", "ResourceName", "ResourceType", "EventSource", "ReadOnly", "AccessKeyId", "EventId"];
const PERIODS = { "15m": 15, "1h": 60, "6h": 360, "24h": 1440 };
const LIVE_MS = 5000;

export async function render(ctx) {
  const { api, query, go, onLeave } = ctx;
  document.title = "Audit trail · podid";
  const st = {
    attr: ATTRIBUTES.includes(query.get("attr")) ? query.get("attr") : "EventName",
    value: query.get("value") ?? "",
    period: PERIODS[query.get("period")] ? query.get("period") : "1h",
    failures: query.get("failures") === "1",
    live: query.get("live") !== "0",
  };

  const form = h(
    "form",
    { class: "filter", role: "search", "data-testid": "audit-filter" },
    field("Attribute", h("select", { name: "attr" }, ATTRIBUTES.map((a) => h("option", { value: a, selected: a === st.attr }, a)))),
    field("Value", h("input", { name: "value", value: st.value, spellcheck: "false", placeholder: "e.g. AssumeRoleForPodIdentity" })),
    field("Period", h("select", { name: "period" }, Object.keys(PERIODS).map((p) => h("option", { value: p, selected: p === st.period }, `last ${p}`)))),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "failures", checked: st.failures }), " Failures only"),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "live", checked: st.live }), " Live"),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply")),
  );
  const apply = () => {
    const d = new FormData(form);
    const q = { attr: d.get("attr"), period: d.get("period") };
    if (d.get("value").trim()) q.value = d.get("value").trim();
    if (d.get("failures")) q.failures = "1";
    if (!d.get("live")) q.live = "0";
    go("/audit", q);
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    apply();
  });
  form.addEventListener("change", (ev) => {
    if (ev.target.type === "checkbox" || ev.target.tagName === "SELECT") apply();
  });

  const chartBox = h("div", { class: "chart-box" });
  const listBox = h("div", {});
  const status = h("p", { class: "muted small", "aria-live": "polite" });
  const minutes = PERIODS[st.period];
  const attribute = st.value ? { key: st.attr, value: st.value } : undefined;

  let older = null; // NextToken of the last page shown
  let paged = false; // older pages shown: live updates leave the list alone
  let shown = [];
  async function loadTimeline(more) {
    const start = new Date(Date.now() - minutes * 60000);
    const page = await api.lookupEvents({ attribute, start, nextToken: more ? older : undefined });
    const events = (page.Events ?? []).map(parseEvent);
    shown = more ? [...shown, ...events] : events;
    paged = Boolean(more);
    older = page.NextToken ?? null;
    const visible = st.failures ? shown.filter((e) => e.outcome !== SUCCESS) : shown;
    return [
      eventsTable(visible, { empty: st.failures ? "No failed events in this period." : "No events in this period." }),
      older ? h("div", { class: "pager" }, h("button", { type: "button", onclick: () => fill(listBox, () => loadTimeline(true), "LookupEvents") }, "Load older")) : null,
    ];
  }

  async function loadChart() {
    const span = Math.min(minutes, 60);
    const end = new Date();
    const start = new Date(end.getTime() - (span - 1) * 60000);
    start.setSeconds(0, 0);
    const { events, truncated } = await lookupAll(api, { attribute: { key: "EventName", value: CREDENTIAL_EVENT }, start, end }, 20);
    return [
      perMinuteChart(perMinute(events, start, end), { title: `Credential requests per minute, last ${span} min` }),
      truncated ? h("p", { class: "muted small" }, "Only the newest 1,000 credential requests are counted.") : null,
    ];
  }

  let busy = false;
  async function refresh(first) {
    if (busy) return;
    busy = true;
    try {
      if (first) {
        await Promise.all([fill(chartBox, loadChart, "LookupEvents"), fill(listBox, () => loadTimeline(false), "LookupEvents")]);
      } else {
        // Live: replace in place without a loading flash; keep what was there on error.
        const [c, l] = await Promise.allSettled([loadChart(), paged ? Promise.resolve(null) : loadTimeline(false)]);
        if (c.status === "fulfilled") chartBox.replaceChildren(...c.value.filter(Boolean));
        if (l.status === "fulfilled" && l.value) listBox.replaceChildren(...l.value.filter(Boolean));
        const err = [c, l].find((r) => r.status === "rejected");
        status.replaceChildren(err ? errorBox(err.reason, "Live update") : `Updated ${new Date().toLocaleTimeString()}`);
        return;
      }
      status.textContent = st.live ? `Live: updates every ${LIVE_MS / 1000} s.` : "";
    } finally {
      busy = false;
    }
  }

  refresh(true);
  if (st.live) {
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") refresh(false);
    }, LIVE_MS);
    onLeave(() => clearInterval(timer));
  }

  return h(
    "section",
    { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Audit trail"), h("button", { type: "button", onclick: () => refresh(true) }, "Refresh")),
    chartBox,
    form,
    status,
    listBox,
  );
}
