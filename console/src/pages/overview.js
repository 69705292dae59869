"use strict";
const { el, num } = cf;

// The last two minutes of rates, one point per sample (the console keeps them).
const KEPT = 120;

function chart(s) {
  const points = s.recent.map((r) => ({ checkouts: r.checkouts_per_second, messages: r.messages_per_second / 10 }));
  const max = Math.max(1, ...points.map((p) => Math.max(p.checkouts, p.messages)));
  const offset = KEPT - points.length;
  const line = (key) => points.map((p, i) => `${((offset + i) / (KEPT - 1)) * 600},${120 - (p[key] / max) * 105}`).join(" ");
  document.getElementById("chart-checkouts").setAttribute("points", line("checkouts"));
  document.getElementById("chart-messages").setAttribute("points", line("messages"));
  document.getElementById("chart-max").textContent = `${num(max, 1)}/s`;
}

function render(s) {
  chart(s);
  const k = s.checkouts;
  document.getElementById("k-rate").textContent = num(k.per_second, 1);
  document.getElementById("k-flight").textContent = num(k.in_flight);
  document.getElementById("k-confirmed").textContent = num(k.confirmed);
  document.getElementById("k-rejected").textContent = num(k.rejected);
  document.getElementById("k-expired").textContent = num(k.expired);
  document.getElementById("k-dead").textContent = num(s.dead_lettered);
  const outbox = Object.fromEntries(s.outboxes.map((o) => [o.service, o]));
  document.getElementById("services").replaceChildren(...s.services.map((svc) =>
    el("tr", { "data-service": svc.name },
      el("th", { scope: "row", text: svc.name }),
      el("td", { class: "mono", text: svc.url }),
      el("td", { class: svc.ready ? "ready" : "down", title: svc.detail, text: svc.ready ? "ready" : "not ready: " + svc.detail }),
      el("td", { class: "num", text: num(outbox[svc.name] && outbox[svc.name].waiting) }),
      el("td", { class: "num", text: num(outbox[svc.name] && outbox[svc.name].oldest_waiting_seconds, 1) }))));
  document.getElementById("subscriptions").replaceChildren(...s.subscriptions.map((sub) =>
    el("tr", { "data-subscription": sub.name },
      el("th", { scope: "row", class: "mono", text: sub.name }),
      el("td", { text: sub.consumer }),
      el("td", { class: "num", text: num(sub.per_second, 1) }),
      el("td", { class: "num", text: num(sub.processed) }),
      el("td", { class: "num", text: num(sub.duplicates) }),
      el("td", { class: "num", text: num(sub.failed_attempts) }),
      el("td", { class: "num", text: num(sub.backlog) }),
      el("td", { class: "num" + (sub.dead_lettered > 0 ? " down" : ""), text: num(sub.dead_lettered) }))));
}

cf.live("live-status", render);
