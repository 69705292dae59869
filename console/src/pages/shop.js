"use strict";
const { el, money } = cf;
let customers = [];
// Set once a checkout is sent; its ending, when the cart shows it, is news.
let checkingOut = false;
const ENDINGS = {
  converted: ["The checkout ended: converted, and the order is placed.", "ok"],
  stock_unavailable: ["The checkout ended: not enough stock, nothing reserved. Edit the cart and try again.", "error"],
  checkout_expired: ["The checkout ended: it expired before it could finish.", "error"],
  payment_declined: ["The checkout ended: the card was declined, the stock went back. Pick another card and check out again.", "error"],
};

// Where the demo ships: the customer's name at one demo address.
const shippingAddress = () => ({
  name: current().name, line1: "1 Market Street", city: "Springfield", postal_code: "12345", country: "US",
});

const current = () => customers.find((c) => c.id === document.getElementById("customer").value);
const base = () => "/api/shop/customers/" + encodeURIComponent(current().id);

async function act(what, call) {
  try {
    await call();
    cf.status("shop-status", what, "ok");
  } catch (error) {
    cf.status("shop-status", error.message, "error");
  }
  refresh();
}

async function catalog() {
  const items = await cf.api("/api/shop/catalog");
  cf.rows(document.getElementById("catalog"), items, (p) => p.sku, (p) => el("tr", { "data-sku": p.sku },
    el("th", { scope: "row" }, p.name, " ", el("span", { class: "mono muted", text: p.sku })),
    el("td", { class: "num price" }),
    el("td", { class: "num available" }),
    el("td", { class: "num reserved" }),
    el("td", {}, el("button", { type: "button", class: "add", "data-sku": p.sku, "aria-label": "Add " + p.name + " to the cart",
      onclick: () => act(`Added ${p.name}.`, () => cf.api(base() + "/cart/items", { method: "POST", body: { product_sku: p.sku, quantity: 1 } })) }, "Add"))),
  (row, p) => {
    // The catalog's price now; a cart line keeps the price it was added at.
    row.querySelector(".price").textContent = money(p.price_cents);
    row.querySelector(".available").textContent = p.available ?? "–";
    row.querySelector(".reserved").textContent = p.reserved ?? "–";
  });
}

async function cart() {
  let c = null;
  try { c = await cf.api(base() + "/cart"); } catch (error) { if (error.status !== 404) throw error; }
  const status = c ? c.status : "no cart yet";
  const declined = c && c.status === "payment_declined" && c.rejection ? ` (${c.rejection.decline_code || c.rejection.reason})` : "";
  document.getElementById("cart-status").textContent = status + declined;
  document.getElementById("ship-to").textContent = Object.values(shippingAddress()).join(", ");
  // As the cart's rules say: not while pending, not empty; a converted cart is spent
  // (the next add starts a new one).
  document.getElementById("checkout").disabled =
    !c || c.items.length === 0 || c.status === "checkout_pending" || c.status === "converted";
  if (checkingOut && ENDINGS[status]) {
    checkingOut = false;
    cf.status("shop-status", ...ENDINGS[status]);
  }
  document.getElementById("cart-id").textContent = c ? c.id : "–";
  document.getElementById("cart-total").textContent = c ? money(c.total_cents) : "–";
  document.getElementById("cart-lines").replaceChildren(...(c ? c.items : []).map((i) =>
    el("li", {}, `${i.quantity} × ${i.product_sku} at ${money(i.unit_price_cents)}`,
      // The line keeps the price it was added at; the catalog's price now, if it moved.
      i.current_unit_price_cents == null ? "" :
        el("span", { class: "muted", "data-current-price": i.current_unit_price_cents }, ` (now ${money(i.current_unit_price_cents)})`))));
  document.getElementById("explore-cart").href = c ? "/explorer?q=" + c.id : "/explorer";
}

async function orders() {
  // The newest page (50): a customer's recent orders.
  const list = (await cf.api(base() + "/orders")).items;
  list.sort((a, b) => b.created_at.localeCompare(a.created_at));
  cf.rows(document.getElementById("orders"), list, (o) => o.id, (o) => el("tr", { "data-order": o.id },
    el("td", {}, el("span", { class: "mono", text: o.id }),
      o.shipping_address ? el("div", { class: "muted ships-to", text: "ships to " + [o.shipping_address.name, o.shipping_address.line1, o.shipping_address.city, o.shipping_address.country].join(", ") }) : ""),
    el("td", { class: "order-status" }),
    el("td", { class: "num", text: money(o.total_cents) }),
    el("td", { text: cf.time(o.created_at) }),
    el("td", {}, el("button", { type: "button", class: "cancel secondary", "aria-label": "Cancel order " + o.id,
      onclick: () => act("Order cancelled; its stock goes back.", () => cf.api(`${base()}/orders/${o.id}/cancel`, { method: "POST" })) }, "Cancel"))),
  (row, o) => {
    row.querySelector(".order-status").textContent = o.status;
    row.querySelector("button.cancel").hidden = o.status !== "confirmed";
  });
}

async function mail() {
  const list = await cf.api(base() + "/mail?to=" + encodeURIComponent(current().email));
  document.getElementById("mail").replaceChildren(...list.map((m) => el("li", {},
    el("strong", { text: m.subject }), " ", el("span", { class: "muted", text: `${cf.time(m.at)} · ${m.source}` }),
    el("details", {}, el("summary", { text: "body" }), el("pre", { text: m.body })))));
}

async function push() {
  const list = (await cf.api(base() + "/push")).items;
  list.sort((a, b) => b.created_at.localeCompare(a.created_at));
  document.getElementById("push").replaceChildren(...list.map((p) => el("li", {},
    el("strong", { text: p.title }), " ", el("span", { text: p.body }), " ", el("span", { class: "muted", text: cf.time(p.created_at) }))));
}

let refreshing = false;
async function refresh() {
  if (!current() || refreshing) return;
  refreshing = true;
  try {
    await Promise.all([catalog(), cart(), orders(), mail(), push()]);
  } catch (error) {
    cf.status("shop-status", error.message, "error");
  } finally {
    refreshing = false;
  }
}

document.getElementById("checkout").addEventListener("click", () =>
  act("Checking out: the cart is pending until inventory, payment and order answer.", async () => {
    const payment_method = document.getElementById("card").value;
    await cf.api(base() + "/checkout", { method: "POST", body: { payment_method, shipping_address: shippingAddress() } });
    checkingOut = true;
  }));
document.getElementById("customer").addEventListener("change", () => {
  cf.status("shop-status", "");
  checkingOut = false;
  document.getElementById("orders").replaceChildren();
  refresh();
});

(async () => {
  try {
    customers = await cf.api("/api/shop/customers");
  } catch (error) {
    cf.status("shop-status", error.message, "error");
    return;
  }
  if (customers.length === 0) {
    cf.status("shop-status", "No customers yet: cartflow dev loads demo customers, or POST /customers.", "error");
    return;
  }
  document.getElementById("customer").replaceChildren(...customers.map((c) => el("option", { value: c.id, text: `${c.name} <${c.email}>` })));
  refresh();
  setInterval(refresh, 1000);
})();
