// feed.js: the live change feed, read from GET /v1/watch (one JSON event
// a line) with fetch and a stream reader, so the Authorization header
// goes along. When the stream ends it resumes with since= the last index.

import { parseJSON, request } from "./api.js";
import { el, fromBase64, preview } from "./format.js";

const KEEP = 200;   // events kept on screen
const RETRY = 2000; // ms before reconnecting
let ctl = null;     // aborts the current stream
let onChange = () => {};

function $(id) { return document.getElementById(id); }

function describe(ev) {
  switch (ev.type) {
    case "counter":
      return ev.reset ? ["reset", "counter reset"] : ["incr", "= " + (ev.counter ?? 0)];
    case "set":
      return ["set", "{" + (ev.members || []).map((m) => preview(fromBase64(m), 24).text).join(", ") + "}"];
  }
  if (ev.deleted) return ["del", ""];
  if (ev.expired) return ["expired", ""];
  return ["put", preview(fromBase64(ev.value), 80).text];
}

function show(ev) {
  const [op, what] = describe(ev);
  const li = el("li");
  li.dataset.key = ev.key;
  li.append(
    el("span", new Date().toLocaleTimeString(), "t"),
    el("span", op, "op " + (op === "del" || op === "expired" ? "del" : "")),
    el("span", ev.key + (what ? "  " + what : ""), "what", ev.key),
  );
  const list = $("feed");
  list.prepend(li);
  while (list.children.length > KEEP) list.lastChild.remove();
}

async function run(ns, signal) {
  let since = "";
  while (!signal.aborted) {
    try {
      const q = new URLSearchParams({ ns });
      if (since) q.set("since", since);
      const resp = await request("/v1/watch?" + q, { signal });
      $("feed-state").textContent = "watching " + ns;
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          const ev = parseJSON(line);
          if (ev.index) since = String(ev.index);
          if (ev.dropped) break; // resume from since
          show(ev);
          onChange(ev);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err.status === 410) since = ""; // too old to replay: watch from now
      $("feed-state").textContent = err.message;
    }
    if (signal.aborted) return;
    $("feed-state").textContent = "reconnecting…";
    await new Promise((r) => setTimeout(r, RETRY));
  }
}

/** watch (re)starts the feed on namespace ns; changed(ev) sees each event. */
export function watch(ns, changed) {
  if (changed) onChange = changed;
  if (ctl) ctl.abort();
  ctl = new AbortController();
  $("feed").replaceChildren();
  $("feed-state").textContent = "connecting…";
  run(ns, ctl.signal);
}
