"use strict";
const { el, money } = cf;

async function payments() {
  // The newest page: a console shows what is happening, the API pages through the rest.
  const page = await cf.api("/api/payments");
  const list = page.items;
  document.getElementById("payments-more").hidden = !page.next_page_token;
  cf.rows(document.getElementById("payments"), list, (p) => p.id, (p) => el("tr", { "data-payment": p.id },
    el("td", { class: "mono", text: p.id }),
    el("td", { class: "payment-status" }),
    el("td", { class: "num", text: money(p.amount_cents) }),
    el("td", { class: "num captured" }),
    el("td", { class: "num refunded" }),
    el("td", { text: p.card ? `${p.card.brand} ${p.card.last4}` : (p.decline_code || "–") }),
    el("td", { class: "mono", text: p.order_id || "–" }),
    el("td", { class: "updated" })),
  (row, p) => {
    row.querySelector(".payment-status").textContent = p.status;
    row.querySelector(".captured").textContent = money(p.captured_cents);
    row.querySelector(".refunded").textContent = money(p.refunded_cents);
    row.querySelector(".updated").textContent = cf.time(p.updated_at);
  });
}

async function reconcile() {
  cf.status("recon-status", "Reading the provider's ledger…");
  try {
    const r = await cf.api("/api/payments/reconciliation");
    const summary = `compared ${r.compared} settled payments with ${r.provider_intents} provider intents (${r.pending.length} pending); net ${money(r.records_net_cents)} here, ${money(r.provider_net_cents)} at the provider`;
    document.getElementById("differences").replaceChildren(...r.differences.map((d) => el("tr", { class: "difference" },
      el("td", { class: "mono", text: d.payment_id || d.intent_id || "–" }),
      el("td", { text: d.problem }))));
    if (r.differences.length === 0) cf.status("recon-status", `No differences: ${summary}.`, "ok");
    else cf.status("recon-status", `${r.differences.length} difference(s): ${summary}.`, "error");
  } catch (error) {
    cf.status("recon-status", error.message, "error");
  }
}

document.getElementById("reconcile").addEventListener("click", reconcile);
payments().catch((error) => cf.status("recon-status", error.message, "error"));
setInterval(() => payments().catch(() => {}), 2000);
