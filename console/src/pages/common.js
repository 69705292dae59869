"use strict";
// Helpers every console page uses: building elements, calling the console's API,
// and showing a status line. No framework: each page is small.
const cf = {
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  },

  // Calls the console's API; a refusal throws an Error with the problem's detail.
  async api(path, { method = "GET", body } = {}) {
    const options = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["content-type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    if (!response.ok) {
      const detail = (data && data.detail) || `${response.status} ${response.statusText}`;
      const error = new Error(detail);
      error.status = response.status;
      throw error;
    }
    return data;
  },

  // Updates a table body's rows in place, keyed by key(item): a row keeps its
  // elements between refreshes, so buttons keep the keyboard focus.
  rows(tbody, items, key, build, update) {
    const existing = new Map([...tbody.children].map((row) => [row.dataset.key, row]));
    const ordered = items.map((item) => {
      const k = key(item);
      let row = existing.get(k);
      if (!row) {
        row = build(item);
        row.dataset.key = k;
      }
      existing.delete(k);
      update(row, item);
      return row;
    });
    for (const gone of existing.values()) gone.remove();
    ordered.forEach((row, i) => {
      if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] || null);
    });
  },

  status(id, message, kind) {
    const node = document.getElementById(id);
    node.textContent = message || "";
    node.className = "status" + (kind ? " " + kind : "");
  },

  num(value, digits = 0) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    return Number(value).toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  },

  money(cents) { return "$" + (Number(cents) / 100).toFixed(2); },

  time(iso) { return iso ? new Date(iso).toLocaleTimeString("en", { hour12: false }) : "–"; },

  // Server-sent snapshots of the live overview, with a status line.
  live(statusId, render) {
    const source = new EventSource("/api/live");
    source.addEventListener("snapshot", (event) => {
      const snapshot = JSON.parse(event.data);
      cf.status(statusId, `Live · updated ${cf.time(snapshot.at)}`);
      render(snapshot);
    });
    source.onerror = () => cf.status(statusId, "Connection to the console lost; retrying…", "error");
    return source;
  },
};
