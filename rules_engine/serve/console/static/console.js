// rules-engine console: small progressive enhancements; every page works without this script.
"use strict";
(function () {
  // Rules page: filter the table while typing (the form still searches on the server without script).
  const q = document.getElementById("q");
  const table = document.getElementById("rule-table");
  if (q && table) {
    q.addEventListener("input", function () {
      const needle = q.value.trim().toLowerCase();
      for (const row of table.tBodies[0].rows) {
        const hay = row.getAttribute("data-search");
        if (hay !== null) row.hidden = needle !== "" && !hay.includes(needle);
      }
    });
  }
  // Sandbox: move focus to the result after an evaluation, so keyboard and screen-reader users land on it.
  const result = document.getElementById("result");
  if (result) result.focus();
  // Traffic page: refresh counts and rates every 2 seconds from /ui/api/traffic.
  const received = document.getElementById("received");
  if (!received) return;
  let last = null;
  function rate(now, before, dt) { return dt > 0 ? ((now - before) / dt).toFixed(1) : "0"; }
  async function refresh() {
    let data;
    try {
      const resp = await fetch("/ui/api/traffic", { credentials: "same-origin", cache: "no-store" });
      if (!resp.ok) return;
      data = await resp.json();
    } catch (e) { return; }
    received.textContent = String(Math.round(data.received));
    const dt = last ? data.at - last.at : 0;
    for (const row of document.querySelectorAll("#rule-traffic tbody tr")) {
      const name = row.getAttribute("data-rule");
      const n = data.rules[name] || 0;
      row.querySelector(".count").textContent = String(Math.round(n));
      row.querySelector(".rate").textContent = last ? rate(n, last.rules[name] || 0, dt) : "0";
    }
    for (const row of document.querySelectorAll("#target-traffic tbody tr")) {
      const name = row.getAttribute("data-target");
      const t = data.targets[name] || { delivered: 0, retried: 0, dead_lettered: 0, failed: 0 };
      for (const k of ["delivered", "retried", "dead_lettered", "failed"]) {
        row.querySelector("." + k).textContent = String(Math.round(t[k]));
      }
      const before = last && last.targets[name] ? last.targets[name].delivered : 0;
      row.querySelector(".rate").textContent = last ? rate(t.delivered, before, dt) : "0";
    }
    document.getElementById("refreshed").textContent = "Refreshed " + new Date(data.at * 1000).toLocaleTimeString() + ".";
    last = data;
  }
  refresh();
  setInterval(refresh, 2000);
})();
