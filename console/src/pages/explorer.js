"use strict";
const { el, num } = cf;

function message(step) {
  if (!step.message) return null;
  const text = JSON.stringify({ attributes: step.message.attributes, payload: step.message.payload }, null, 2);
  return el("details", {}, el("summary", { text: "message" }), el("pre", { text }));
}

function saga(found) {
  const total = Math.max(1, ...found.steps.map((s) => s.offset_ms));
  const rows = found.steps.map((step) => {
    // A hop is drawn from its event's publication to its consumption; other steps
    // are a mark at their time.
    const bar = el("span", {});
    const from = step.hop_ms ? step.offset_ms - step.hop_ms : step.offset_ms;
    bar.style.left = `${(from / total) * 100}%`;
    if (step.hop_ms) bar.style.width = `${Math.max(0.5, (step.hop_ms / total) * 100)}%`;
    return el("tr", { "data-service": step.service, "data-what": step.what, "data-event-type": step.event_type },
      el("td", { class: "num", text: "+" + num(step.offset_ms, 1) + " ms" }),
      el("td", {}, el("div", { class: "bar", "aria-hidden": "true" }, bar)),
      el("td", { text: step.service }),
      el("td", {}, el("span", { class: "badge what-" + step.what, text: step.what })),
      el("td", { class: "mono", text: step.event_type }),
      el("td", { class: "num", text: step.hop_ms === null || step.hop_ms === undefined ? "" : num(step.hop_ms, 1) + " ms" }),
      el("td", {}, el("div", { text: step.detail }), el("div", { class: "mono muted", text: step.event_id || "" }), message(step)));
  });
  const checkout = found.steps.some((s) => s.event_type === "order-requested");
  return el("section", { "data-saga": found.correlation_id },
    el("h2", {}, checkout ? "Checkout of cart " : "Saga ", el("span", { class: "mono", text: found.correlation_id })),
    el("table", { class: "grid" },
      el("caption", { text: `${found.steps.length} steps over ${num(total, 1)} ms. A hop is an event's publication to its consumption.` }),
      el("thead", {}, el("tr", {}, ...["time", "waterfall", "service", "what", "event", "hop", "detail"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...rows)));
}

async function show(q) {
  const sagas = document.getElementById("sagas");
  sagas.replaceChildren();
  cf.status("result-status", "Looking…");
  try {
    const found = await cf.api("/api/checkouts/" + encodeURIComponent(q));
    sagas.replaceChildren(...found.sagas.map(saga));
    cf.status("result-status", `Found ${found.sagas.length} saga(s) for this ${found.matched} id.`, "ok");
  } catch (error) {
    cf.status("result-status", error.message, "error");
  }
}

document.getElementById("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = document.getElementById("q").value.trim();
  history.replaceState(null, "", "?q=" + encodeURIComponent(q));
  show(q);
});

const initial = new URLSearchParams(location.search).get("q");
if (initial) {
  document.getElementById("q").value = initial;
  show(initial);
}
