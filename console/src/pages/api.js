"use strict";
// The API page: both documents rendered as tables, from the console's own API (nothing
// fetched from a CDN: the page works offline). A row's details show its schemas.
const { el } = cf;
const SERVICES = ["product", "inventory", "cart", "order", "customer", "notification", "email-push", "payment"];
const METHODS = ["get", "post", "put", "delete", "patch"];

// The schema a `$ref` names inside `doc`, followed once.
function resolve(doc, node) {
  if (node && node.$ref && node.$ref.startsWith("#/")) {
    return node.$ref.slice(2).split("/").reduce((at, key) => at && at[key.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
  }
  return node;
}

function schemaBlock(title, schema) {
  return el("details", {}, el("summary", { text: title }), el("pre", { text: JSON.stringify(schema, null, 2) }));
}

async function openapi(service) {
  const doc = await cf.api(`/api/contract/openapi/${service}`);
  document.getElementById("raw-openapi").href = `/api/contract/openapi/${service}`;
  // The service's own routes first; the kit's (probes, the operator's) after them.
  const KIT_TAGS = ["probes", "operator"];
  const kit = (op) => (op.tags || []).some((t) => KIT_TAGS.includes(t));
  const operations = Object.entries(doc.paths || {}).flatMap(([route, item]) =>
    METHODS.filter((m) => item[m]).map((method) => [route, method, item[method]]));
  operations.sort((a, b) => kit(a[2]) - kit(b[2]));
  const rows = [];
  for (const [route, method, op] of operations) {
    // The route's own answers in full; the ones every route shares (a `$ref` to
    // components/responses) on one line, each explained on hover.
    const entries = Object.entries(op.responses || {});
    const answers = entries.filter(([, answer]) => !answer.$ref).map(([status, answer]) => {
      const content = answer.content ? Object.values(answer.content)[0] : null;
      return schemaBlock(`${status} ${answer.description || ""}`, content ? resolve(doc, content.schema) : {});
    });
    const shared = entries.filter(([, answer]) => answer.$ref);
    if (shared.length) {
      answers.push(el("div", { class: "muted shared-answers" }, "and the shared ",
        ...shared.map(([status, answer]) => el("abbr", { title: (resolve(doc, answer) || {}).description || "", text: `${status} ` }))));
    }
    const body = op.requestBody && op.requestBody.content ? Object.values(op.requestBody.content)[0] : null;
    rows.push(el("tr", { "data-route": `${method.toUpperCase()} ${route}` },
      el("td", { class: "mono", text: method.toUpperCase() }),
      el("td", { class: "mono", text: route }),
      el("td", {}, op.summary || "", body ? schemaBlock("request body", resolve(doc, body.schema)) : ""),
      el("td", {}, answers),
      el("td", { text: (op.security || []).map((s) => Object.keys(s)[0]).join(", ") || "public" })));
  }
  document.getElementById("routes").replaceChildren(...rows);
}

async function asyncapi() {
  const doc = await cf.api("/api/contract/asyncapi");
  const byChannel = {};
  for (const op of Object.values(doc.operations || {})) {
    const channel = (op.channel && op.channel.$ref || "").split("/").pop();
    const who = op["x-cartflow-service"] || "";
    const entry = byChannel[channel] || (byChannel[channel] = { send: [], receive: [] });
    entry[op.action === "send" ? "send" : "receive"].push(who);
  }
  const rows = Object.entries(doc.channels || {}).map(([name, channel]) => {
    const message = resolve(doc, Object.values(channel.messages || {})[0] || {});
    const payload = message ? resolve(doc, message.payload) : null;
    const who = byChannel[name] || { send: [], receive: [] };
    return el("tr", { "data-topic": channel.address || name },
      el("td", { class: "mono", text: channel.address || name }),
      el("td", { text: who.send.join(", ") }),
      el("td", { text: who.receive.join(", ") }),
      el("td", {}, payload ? schemaBlock("schema", payload) : ""));
  });
  document.getElementById("channels").replaceChildren(...rows);
}

(async () => {
  const select = document.getElementById("service");
  select.replaceChildren(...SERVICES.map((s) => el("option", { value: s, text: s })));
  const show = async () => {
    try {
      await openapi(select.value);
      cf.status("api-status", `${select.value}: ${document.getElementById("routes").children.length} routes.`, "ok");
    } catch (error) {
      cf.status("api-status", `${select.value}: ${error.message}`, "error");
    }
  };
  select.addEventListener("change", show);
  await show();
  try {
    await asyncapi();
  } catch (error) {
    cf.status("api-status", `topics: ${error.message}`, "error");
  }
})();
