// main.js: the dashboard's entry point. It wires the namespace picker to
// the key browser and the feed, and starts the status poll.

import { forgetToken, token } from "./api.js";
import * as feed from "./feed.js";
import * as keys from "./keys.js";
import * as status from "./status.js";

const sel = document.getElementById("ns");
const forget = document.getElementById("forget");
const params = new URLSearchParams(location.search);
const ns = params.get("ns") || "default";
if (ns !== "default") sel.append(new Option(ns, ns));
sel.value = ns;

let pending = 0;
// A change in the feed refreshes the key list, at most every half second.
function changed() {
  if (pending) return;
  pending = setTimeout(() => { pending = 0; keys.refresh(); }, 500);
}

sel.addEventListener("change", () => {
  keys.setNamespace(sel.value);
  feed.watch(sel.value, changed);
});
forget.addEventListener("click", () => { forgetToken(); location.reload(); });
const showForget = () => { forget.hidden = !token(); };
document.addEventListener("grapevine:token", showForget);
showForget();

status.start();
keys.start(ns);
feed.watch(ns, changed);
