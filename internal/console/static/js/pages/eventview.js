// The table of CloudTrail events shared by the audit trail and an
// association's recent credential events.

import { h, table, fmtTime, pretty } from "../ui.js";
import { SUCCESS } from "../events.js";

export function outcomeBadge(ev) {
  return ev.outcome === SUCCESS
    ? h("span", { class: "badge success" }, "Success")
    : h("span", { class: "badge failure", title: ev.errorMessage }, ev.errorCode);
}

/**
 * eventsTable lists events, newest first; each row opens its full record.
 * compact leaves out the event, caller and resource columns (one
 * association's credential requests).
 */
export function eventsTable(events, { empty = "No events.", compact = false } = {}) {
  const record = (ev) => h("details", {}, h("summary", {}, "record"), h("pre", { class: "json" }, pretty(ev.raw.CloudTrailEvent ?? "{}")));
  const rows = events.map((ev) =>
    h(
      "tr",
      { "data-event": ev.id, class: ev.outcome === SUCCESS ? "" : "failed" },
      h("td", { class: "time" }, fmtTime(ev.time)),
      compact ? null : h("td", {}, h("code", {}, ev.name), h("div", {}, h("small", { class: "muted" }, ev.source))),
      h("td", {}, outcomeBadge(ev), ev.errorMessage ? h("div", { class: "reason" }, ev.errorMessage) : null, compact ? record(ev) : null),
      compact ? null : h("td", { class: "arn" }, ev.user),
      compact ? null : h("td", { class: "arn" }, ev.resources.map((r) => h("div", {}, r))),
      compact ? null : h("td", {}, record(ev)),
    ),
  );
  const headings = compact ? ["Time", "Outcome"] : ["Time", "Event", "Outcome", "Caller", "Resources", ""];
  return table(headings, rows, { empty, cls: "events" });
}
