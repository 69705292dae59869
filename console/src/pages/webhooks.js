"use strict";
const { el } = cf;
let selected = null;

async function endpoints() {
  const page = await cf.api("/api/webhooks");
  cf.rows(document.getElementById("endpoints"), page.items, (e) => e.id, (e) => el("tr", { "data-endpoint": e.id },
    el("td", { class: "mono", text: e.url }),
    el("td", { text: e.description || "–" }),
    el("td", { text: e.events.join(", ") }),
    el("td", { class: "endpoint-status" }),
    el("td", { class: "failing" }),
    el("td", { class: "success" }),
    el("td", { class: "num pending" }),
    el("td", {}, el("button", { type: "button", text: "Show", onclick: () => select(e) }))),
  (row, e) => {
    row.querySelector(".endpoint-status").textContent = e.status + (e.paused_reason ? ` (${e.paused_reason})` : "");
    row.querySelector(".failing").textContent = cf.time(e.failing_since);
    row.querySelector(".success").textContent = cf.time(e.last_success_at);
    row.querySelector(".pending").textContent = cf.num(e.pending);
  });
}

function select(endpoint) {
  selected = endpoint;
  document.getElementById("selected").hidden = false;
  document.getElementById("selected-title").textContent = `Deliveries to ${endpoint.url}`;
  document.getElementById("deliveries").replaceChildren();
  deliveries().catch((error) => cf.status("status", error.message, "error"));
}

async function deliveries() {
  if (!selected) return;
  const page = await cf.api(`/api/webhooks/${selected.id}/deliveries`);
  cf.rows(document.getElementById("deliveries"), page.items, (d) => d.id, (d) => el("tr", { "data-delivery": d.id },
    el("td", { class: "mono", text: d.event_id }),
    el("td", { text: d.event_type }),
    el("td", { class: "delivery-status" }),
    el("td", { class: "num attempts" }),
    el("td", { class: "answer" }),
    el("td", { text: cf.time(d.created_at) }),
    el("td", {},
      el("button", { type: "button", text: "Attempts", onclick: () => attempts(d) }),
      " ",
      el("button", { type: "button", class: "replay", text: "Replay", onclick: () => replay(d) }))),
  (row, d) => {
    row.querySelector(".delivery-status").textContent = d.status;
    row.querySelector(".attempts").textContent = cf.num(d.attempts);
    row.querySelector(".answer").textContent = d.last_status_code ? String(d.last_status_code) : (d.last_error || "–");
    row.querySelector(".replay").disabled = d.status === "pending";
  });
}

async function attempts(delivery) {
  const detail = await cf.api(`/api/webhooks/${selected.id}/deliveries/${delivery.id}`);
  document.getElementById("attempts-title").hidden = false;
  document.getElementById("attempts-table").hidden = false;
  document.getElementById("attempts-title").textContent = `Attempts of ${delivery.event_type} ${delivery.event_id}`;
  document.getElementById("attempts").replaceChildren(...detail.attempts_made.map((a) => el("tr", {},
    el("td", { text: cf.time(a.started_at) }),
    el("td", { class: "num", text: `${a.latency_ms} ms` }),
    el("td", { text: a.status_code ? String(a.status_code) : "–" }),
    el("td", { class: "mono", text: a.response_head || "" }),
    el("td", { text: a.error || "" }))));
}

async function replay(delivery) {
  try {
    await cf.api(`/api/webhooks/${selected.id}/deliveries/${delivery.id}/replay`, { method: "POST" });
    cf.status("status", `Delivery of ${delivery.event_type} ${delivery.event_id} queued again.`, "ok");
    await deliveries();
  } catch (error) {
    cf.status("status", error.message, "error");
  }
}

document.getElementById("replay-since").addEventListener("submit", async (event) => {
  event.preventDefault();
  const since = new Date(document.getElementById("since").value).toISOString();
  try {
    const answer = await cf.api(`/api/webhooks/${selected.id}/replay`, { method: "POST", body: { since } });
    cf.status("status", `${answer.replayed} parked deliveries queued again.`, "ok");
    await deliveries();
  } catch (error) {
    cf.status("status", error.message, "error");
  }
});

endpoints().catch((error) => cf.status("status", error.message, "error"));
setInterval(() => {
  endpoints().catch(() => {});
  deliveries().catch(() => {});
}, 2000);
