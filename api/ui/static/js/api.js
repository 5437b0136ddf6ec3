// api.js: requests to the daemon's HTTP API with the user's token. When
// the API answers 401 the page asks for a token once (every request
// waiting on the same question) and tries again.

const KEY = "grapevine.token";
let asking = null; // the pending question, shared by concurrent 401s

/** The token kept for this tab, or "". */
export function token() { return sessionStorage.getItem(KEY) || ""; }

/** Forget the token (the next 401 asks again). */
export function forgetToken() { sessionStorage.removeItem(KEY); }

function headers(extra) {
  const h = new Headers(extra || {});
  const t = token();
  if (t) h.set("Authorization", "Bearer " + t);
  return h;
}

// ask shows the token dialog and resolves with what the user typed.
function ask(why) {
  if (asking) return asking;
  const dlg = document.getElementById("token-dialog");
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  document.getElementById("token-why").textContent = why;
  asking = new Promise((resolve) => {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, input.value.trim());
      input.value = "";
      dlg.close();
      asking = null;
      document.dispatchEvent(new Event("grapevine:token"));
      resolve();
    }, { once: true });
    dlg.showModal();
    input.focus();
  });
  return asking;
}

/** An error the API answered (apitype.Error), for a person. */
export class APIError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : "HTTP " + status);
    this.status = status;
    this.code = body && body.code;
  }
}

/**
 * fetch path from the API with the token; on 401 ask for a token and try
 * again. Resolves with the Response when it is ok, else rejects with an
 * APIError.
 */
export async function request(path, init = {}) {
  for (;;) {
    const resp = await fetch(path, { ...init, headers: headers(init.headers), cache: "no-store" });
    if (resp.status === 401) {
      const body = await resp.json().catch(() => null);
      const why = token() ? "The daemon does not accept this token: " + (body?.message || "unauthorized") : "This daemon needs an API token (its --api-token-file).";
      await ask(why);
      continue;
    }
    if (!resp.ok) {
      const body = await resp.json().catch(() => null);
      throw new APIError(resp.status, body);
    }
    return resp;
  }
}

/**
 * getJSON fetches path and parses its JSON. Versions (64-bit hybrid-clock
 * timestamps) and counters (int64) come as strings: a JS number would
 * round them.
 */
export async function getJSON(path, init) {
  const text = await (await request(path, init)).text();
  return parseJSON(text);
}

/** parseJSON parses one JSON text, keeping versions and counters exact. */
export function parseJSON(text) {
  // Inside a JSON string a quote is always escaped, so this matches only
  // real "version" and "counter" members.
  return JSON.parse(text.replace(/"(version|counter)":(-?\d+)/g, '"$1":"$2"'));
}
