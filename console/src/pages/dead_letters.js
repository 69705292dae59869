"use strict";
const { el } = cf;
// Each look at the dead letters takes seconds. A look that a replay or a newer look
// has overtaken must not paint its (older) list over the page.
let generation = 0;
const refreshButton = document.getElementById("refresh");

function signedIn(yes) {
  document.getElementById("signin-section").hidden = yes;
  document.getElementById("letters-section").hidden = !yes;
}

async function replaySelected(group) {
  const boxes = [...document.querySelectorAll(`input[data-subscription="${group.subscription}"]:checked`)];
  const eventIds = boxes.map((b) => b.value);
  if (eventIds.length === 0) {
    cf.status("dl-status", "Select the dead letters to replay first.", "error");
    return;
  }
  generation++;
  refreshButton.disabled = false;
  cf.status("dl-status", `Replaying ${eventIds.length} from ${group.subscription}…`);
  try {
    const record = await cf.api("/api/dead-letters/replay", {
      method: "POST",
      body: { service: group.service, subscription: group.subscription, event_ids: eventIds },
    });
    if (record.replayed > 0) {
      cf.status("dl-status", `Replayed ${record.replayed} of ${eventIds.length} from ${group.subscription}.`, "ok");
      // Replayed letters have left the subscription, and the heading's count with them.
      if (record.replayed === eventIds.length) {
        boxes.forEach((b) => b.closest("tr").remove());
        const section = document.querySelector(`section[data-subscription="${group.subscription}"]`);
        section.querySelector(".waiting").textContent = waitingText(section.querySelectorAll("tbody tr").length);
      }
    } else {
      cf.status("dl-status", "Nothing replayed: another look is holding the letters at this moment, or they are gone already. Try again shortly.", "error");
    }
    loadReplays();
  } catch (error) {
    cf.status("dl-status", error.message, "error");
    if (error.status === 401) signedIn(false);
  }
}

function waitingText(count) {
  return `${count} waiting`;
}

function group(g) {
  const rows = g.messages.map((m) => el("tr", { "data-event-id": m.event_id || "" },
    el("td", {}, m.event_id ? el("input", { type: "checkbox", value: m.event_id, "data-subscription": g.subscription, "aria-label": "select " + m.event_id }) : ""),
    el("td", { class: "mono", text: m.event_type || "?" }),
    el("td", { class: "mono", text: m.event_id || m.message_id }),
    el("td", { class: "mono" }, m.correlation_id ? el("a", { href: "/explorer?q=" + encodeURIComponent(m.correlation_id), text: m.correlation_id }) : ""),
    el("td", { class: "num", text: m.delivery_attempts || "" }),
    el("td", { text: cf.time(m.dead_lettered_at) }),
    el("td", { class: "error-text", text: m.error ? `${m.failure_kind}: ${m.error}` : "" }),
    el("td", {}, el("details", {}, el("summary", { text: "body" }), el("pre", { text: m.body })))));
  return el("section", { "data-subscription": g.subscription },
    el("h3", {}, el("span", { class: "mono", text: g.subscription }), ` (${g.service}): `, el("span", { class: "waiting", text: waitingText(g.messages.length) })),
    el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, ...["select", "event", "event id", "saga", "attempts", "dead-lettered", "last error", ""].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...rows)),
    el("button", { type: "button", class: "replay", onclick: () => replaySelected(g) }, "Replay selected"));
}

async function load() {
  const mine = ++generation;
  refreshButton.disabled = true;
  cf.status("dl-status", "Reading the dead-letter subscriptions (a few seconds)…");
  try {
    const listed = await cf.api("/api/dead-letters");
    if (mine !== generation) return;
    signedIn(true);
    const waiting = listed.subscriptions.filter((g) => g.messages.length > 0);
    const letters = document.getElementById("letters");
    letters.replaceChildren(...waiting.map(group));
    if (waiting.length === 0) letters.append(el("p", { text: "No dead letters waiting." }));
    const errors = listed.errors.map((e) => `${e.service}: ${e.error}`).join("; ");
    const total = waiting.reduce((n, g) => n + g.messages.length, 0);
    cf.status("dl-status", `${total} dead letter(s) waiting in ${listed.subscriptions.length} subscriptions.` + (errors ? " Not answering: " + errors : ""), errors ? "error" : "ok");
    loadReplays();
  } catch (error) {
    if (mine !== generation) return;
    cf.status("dl-status", error.message, "error");
    if (error.status === 401) signedIn(false);
  } finally {
    if (mine === generation) refreshButton.disabled = false;
  }
}

async function loadReplays() {
  try {
    const { replays } = await cf.api("/api/replays");
    document.getElementById("replays").replaceChildren(...replays.map((r) => el("tr", {},
      el("td", { text: new Date(r.at).toLocaleString("en", { hour12: false }) }),
      el("td", { text: r.operator }),
      el("td", { class: "mono", text: r.subscription }),
      el("td", { class: "mono", text: r.event_ids.join(", ") }),
      el("td", { class: "num", text: r.replayed }))));
  } catch (_) { /* shown by load() */ }
}

document.getElementById("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = document.getElementById("token");
  try {
    const who = await cf.api("/api/session", { method: "POST", body: { operator: document.getElementById("operator").value, token: token.value } });
    token.value = "";
    document.getElementById("whoami").textContent = `Signed in as ${who.operator}.`;
    load();
  } catch (error) {
    cf.status("dl-status", error.message, "error");
  }
});
refreshButton.addEventListener("click", load);
document.getElementById("signout").addEventListener("click", async () => {
  await cf.api("/api/session", { method: "DELETE" });
  signedIn(false);
  cf.status("dl-status", "Signed out.");
});

cf.api("/api/session").then((who) => {
  document.getElementById("whoami").textContent = `Signed in as ${who.operator}.`;
}).catch(() => {});
load();
