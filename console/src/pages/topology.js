"use strict";

cf.live("live-status", (s) => {
  for (const sub of s.subscriptions) {
    const text = `${cf.num(sub.per_second, 1)}/s · ${cf.num(sub.backlog)} waiting`;
    const count = document.getElementById("sub-" + sub.name);
    if (count) count.textContent = text;
    const dlq = document.getElementById("dlq-" + sub.name);
    if (dlq) dlq.textContent = sub.dead_lettered > 0 ? `dead-lettered ${cf.num(sub.dead_lettered)}` : "";
    const row = document.getElementById("row-" + sub.name);
    if (row) row.textContent = `${text}, ${cf.num(sub.processed)} processed, ${cf.num(sub.dead_lettered)} dead-lettered`;
  }
});
