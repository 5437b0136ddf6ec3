// keys.js: the key browser. GET /v1/kv pages through the namespace's keys
// (prefix filter, after= cursor); a click shows the whole value.

import { getJSON } from "./api.js";
import { el, fromBase64, hexDump, preview, row, versionTime } from "./format.js";

const PAGE = 50;
const state = { ns: "default", prefix: "", cursors: [""], page: 0, next: "", seq: 0 };

function $(id) { return document.getElementById(id); }

/** describe returns the preview of an entry: [text, class, title]. */
function describe(e) {
  if (e.type === "counter") return [String(e.counter ?? 0), "val"];
  if (e.type === "set") {
    const ms = (e.members || []).map((m) => preview(fromBase64(m), 24).text);
    return ["{" + ms.join(", ") + "}", "val", (e.members || []).length + " members"];
  }
  const p = preview(fromBase64(e.value));
  return [p.text, "val " + (p.kind === "hex" ? "bin" : p.kind === "esc" ? "esc" : ""), p.kind === "hex" ? "binary, shown in hex" : ""];
}

function showDetail(e, tr) {
  for (const r of $("keys").querySelectorAll("tr.sel")) r.classList.remove("sel");
  tr.classList.add("sel");
  const d = $("detail");
  d.hidden = false;
  const head = el("div");
  head.append(el("b", e.key, "mono"), el("span", " · " + e.type, "muted"));
  if (e.version) head.append(el("span", " · version " + e.version + " (" + versionTime(e.version) + ")", "muted"));
  let body;
  if (e.type === "register") {
    const bytes = fromBase64(e.value), p = preview(bytes, 4096);
    body = [el("div", bytes.length + " bytes" + (p.kind === "hex" ? ", binary:" : ""), "muted"), el("pre", p.kind === "hex" ? hexDump(bytes) : p.text)];
  } else if (e.type === "counter") {
    body = [el("pre", String(e.counter ?? 0))];
  } else {
    body = [el("pre", (e.members || []).map((m) => preview(fromBase64(m), 200).text).join("\n") || "(empty)")];
  }
  d.replaceChildren(head, ...body);
}

async function load() {
  const seq = ++state.seq; // a later load wins over a slower earlier one
  const q = new URLSearchParams({ ns: state.ns, limit: String(PAGE) });
  if (state.prefix) q.set("prefix", state.prefix);
  if (state.cursors[state.page]) q.set("after", state.cursors[state.page]);
  let page;
  try {
    page = await getJSON("/v1/kv?" + q);
  } catch (err) {
    if (seq !== state.seq) return;
    $("keys").replaceChildren();
    $("keys-msg").textContent = err.message;
    $("keys-msg").className = "error";
    return;
  }
  if (seq !== state.seq) return;
  const entries = page.entries || [];
  $("keys").replaceChildren(...entries.map((e) => {
    const tr = row([[e.key, "key"], e.type, [e.version ? versionTime(e.version) : "", "wide", e.version ? "version " + e.version : ""], describe(e)]);
    tr.dataset.key = e.key;
    tr.addEventListener("click", () => showDetail(e, tr));
    return tr;
  }));
  state.next = page.next || "";
  $("keys").dataset.prefix = state.prefix; // what the list shows, for tests
  $("keys").dataset.page = String(state.page + 1);
  $("keys-msg").className = "muted";
  $("keys-msg").textContent = entries.length ? "" : state.prefix ? "no key starts with “" + state.prefix + "”" : "no keys in " + state.ns;
  $("page").textContent = "page " + (state.page + 1);
  $("prev").disabled = state.page === 0;
  $("next").disabled = !state.next;
}

/** reset goes back to the first page (new namespace or prefix). */
function reset() {
  state.cursors = [""];
  state.page = 0;
  $("detail").hidden = true;
  load();
}

/** setNamespace browses ns from its first key. */
export function setNamespace(ns) { state.ns = ns; reset(); }

/** refresh reloads the current page. */
export function refresh() { load(); }

/** start wires the browser's controls and loads the first page. */
export function start(ns) {
  state.ns = ns;
  let timer = 0;
  $("prefix").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.prefix = $("prefix").value; reset(); }, 150);
  });
  $("key-form").addEventListener("submit", (ev) => ev.preventDefault());
  $("next").addEventListener("click", () => {
    if (!state.next) return;
    state.cursors[state.page + 1] = state.next;
    state.page++;
    load();
  });
  $("prev").addEventListener("click", () => {
    if (state.page === 0) return;
    state.page--;
    load();
  });
  load();
}
