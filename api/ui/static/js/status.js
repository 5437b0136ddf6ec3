// status.js: peers, namespaces and the activity charts, from GET
// /v1/status and /v1/peers polled every 2 s. Rates are differences of the
// cumulative counters between two polls.

import { getJSON } from "./api.js";
import { draw } from "./chart.js";
import { ago, duration, rate, row, shortID, size, el } from "./format.js";

const EVERY = 2000;          // poll interval, ms
const SPAN = 5 * 60 * 1000;  // chart span, ms

const series = { writes: [], sync: [] };
let prev = null; // the last sample: {t, writes, sync}

/** totals reads the cumulative counters out of a status. */
export function totals(st) {
  let sync = 0;
  for (const ns of Object.values(st.namespaces || {})) {
    sync += (ns.rounds?.bytes_sent || 0) + (ns.rounds?.bytes_received || 0);
  }
  return { writes: (st.applied?.local || 0) + (st.applied?.remote || 0), sync };
}

function sample(st, t) {
  const cur = { t, ...totals(st) };
  if (prev) {
    const dt = (t - prev.t) / 1000;
    for (const k of ["writes", "sync"]) {
      const d = cur[k] - prev[k];
      series[k].push({ t, v: d >= 0 && dt > 0 ? d / dt : 0 }); // a restart resets the counters
      while (series[k].length && series[k][0].t < t - SPAN) series[k].shift();
    }
  }
  prev = cur;
  drawCharts();
  const last = (k) => series[k].length ? series[k][series[k].length - 1].v : 0;
  document.getElementById("writes-now").textContent = rate(last("writes"));
  document.getElementById("sync-now").textContent = size(Math.round(last("sync"))) + "/s";
}

function drawCharts() {
  draw(document.getElementById("chart-writes"), series.writes, SPAN, rate);
  draw(document.getElementById("chart-sync"), series.sync, SPAN, (v) => size(v));
}

function renderPeers(peers, now) {
  const body = document.getElementById("peers");
  document.getElementById("peer-count").textContent = peers.length + " connected";
  if (!peers.length) {
    body.replaceChildren(row([["no peer connected", "muted"], ["", "wide"], "", ""]));
    return;
  }
  body.replaceChildren(...peers.map((p) => row([
    [shortID(p.id), "mono", p.id],
    [(p.addrs || [])[0] || "", "mono wide", (p.addrs || []).join("\n")],
    [p.connected_since ? duration((now - Date.parse(p.connected_since)) / 1000) : "", "", p.connected_since || ""],
    [p.latency_ms ? p.latency_ms.toFixed(1) + " ms" : "–", "num"],
  ])));
}

function syncText(s) {
  if (s.syncing) {
    const pct = s.keys_estimated ? Math.min(100, Math.round((100 * s.keys_received) / s.keys_estimated)) : null;
    return "receiving " + s.keys_received + (pct !== null ? ` (${pct}%)` : "") + (s.ranges_total ? ` · ranges ${s.ranges_done}/${s.ranges_total}` : "");
  }
  if (s.pull_first) return "pull first";
  return s.last_round ? (s.last_round_clean ? "in sync" : "repaired") : "no round yet";
}

function renderNamespaces(nss, now) {
  const body = document.getElementById("namespaces");
  const names = Object.keys(nss).sort();
  if (!names.length) {
    body.replaceChildren(row([["no namespace yet", "muted"], "", ["", "wide"], ["", "wide"], "", "", ""]));
    return;
  }
  body.replaceChildren(...names.map((name) => {
    const ns = nss[name], r = ns.rounds || {};
    return row([
      [name, "mono"],
      [ns.items, "num"],
      [ns.tombstones, "num wide"],
      [size(ns.bytes), "num wide"],
      syncText(ns.sync || {}),
      [r.last_clean ? duration((now - Date.parse(r.last_clean)) / 1000) : "–", "", r.last_clean ? "since the last clean round, " + r.last_clean : "no clean round yet"],
      [r.last ? ago(r.last, now) + " with " + shortID(r.last_peer) : "–", "", r.last_peer || ""],
    ]);
  }));
}

// renderReplication says which namespaces the peer replicates and holds,
// and which it forwards to peers that hold them (--namespaces).
function renderReplication(st) {
  const list = (xs) => (xs && xs.length ? xs.join(", ") : "none");
  document.getElementById("replication").textContent =
    "replicates " + list(st.replicates) + " · holds " + list(st.holds) + " · forwards " + list(st.forwards);
}

function renderNode(st) {
  document.getElementById("node").textContent = shortID(st.id) + " · network " + (st.network || "?");
  document.getElementById("node").title = st.id + "\n" + (st.addrs || []).join("\n");
  const sel = document.getElementById("ns");
  const have = new Set(Array.from(sel.options, (o) => o.value));
  for (const name of Object.keys(st.namespaces || {}).sort()) {
    if (!have.has(name)) sel.append(el("option", name));
  }
}

function connected(ok, text) {
  const c = document.getElementById("conn");
  c.textContent = text;
  c.className = "pill " + (ok ? "ok" : "bad");
}

/** start polls the status until the page closes. */
export function start() {
  addEventListener("resize", drawCharts); // the charts draw one unit a pixel
  const poll = async () => {
    try {
      const [st, peers] = await Promise.all([getJSON("/v1/status"), getJSON("/v1/peers")]);
      const now = Date.now();
      renderNode(st);
      renderPeers(peers, now);
      renderNamespaces(st.namespaces || {}, now);
      renderReplication(st);
      sample(st, now);
      connected(true, "live");
    } catch (e) {
      connected(false, e.message || "unreachable");
    }
    setTimeout(poll, EVERY);
  };
  poll();
}
