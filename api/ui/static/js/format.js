// format.js: turning API values into safe, short text. Values go into the
// page as text nodes only (never as HTML).

/** Bytes of a base64 string ("" or absent: none). */
export function fromBase64(b64) {
  if (!b64) return new Uint8Array(0);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * preview describes bytes for a person: {kind: "text", text} for printable
 * UTF-8 (control characters escaped as \xNN), else {kind: "hex", text}
 * with the bytes in hex. max cuts the text (… marks it).
 */
export function preview(bytes, max = 120) {
  let s = null;
  try { s = utf8.decode(bytes); } catch { s = null; }
  if (s !== null) {
    let ctrl = 0;
    const esc = s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => {
      ctrl++;
      return "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0");
    });
    if (ctrl <= s.length / 10) return { kind: ctrl ? "esc" : "text", text: cut(esc, max) };
  }
  return { kind: "hex", text: cut(hex(bytes.subarray(0, max)), max * 3) + (bytes.length > max ? " …" : "") };
}

/** hex writes bytes as "de ad be ef". */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** hexDump writes bytes as lines of offset, 16 bytes in hex, and ASCII. */
export function hexDump(bytes, maxLines = 64) {
  const lines = [];
  for (let off = 0; off < bytes.length && lines.length < maxLines; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(off.toString(16).padStart(6, "0") + "  " + hex(row).padEnd(48) + "  " + ascii);
  }
  if (bytes.length > maxLines * 16) lines.push("… " + (bytes.length - maxLines * 16) + " more bytes");
  return lines.join("\n");
}

function cut(s, max) { return s.length > max ? s.slice(0, max) + "…" : s; }

/** bytes formats a byte count: 512 B, 1.2 kB, 3.4 MB. */
export function size(n) {
  n = Number(n) || 0;
  if (n < 1000) return Math.round(n) + " B";
  const u = ["kB", "MB", "GB", "TB"];
  let i = -1;
  do { n /= 1000; i++; } while (n >= 1000 && i < u.length - 1);
  return n.toFixed(n < 10 ? 1 : 0) + " " + u[i];
}

/** rate formats a per-second figure compactly. */
export function rate(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
  return n >= 10 || n === 0 ? Math.round(n).toString() : n.toFixed(1);
}

/** ago formats how long before now an RFC 3339 time was: "12 s ago". */
export function ago(t, now = Date.now()) {
  if (!t) return "never";
  const s = Math.max(0, (now - Date.parse(t)) / 1000);
  return duration(s) + " ago";
}

/** duration formats seconds: 42 s, 5 min, 3 h, 2 d. */
export function duration(s) {
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  if (s < 172800) return Math.round(s / 3600) + " h";
  return Math.round(s / 86400) + " d";
}

/**
 * versionTime is the wall-clock time inside a version (a hybrid logical
 * clock: milliseconds << 16 | logical), as a local time string.
 */
export function versionTime(v) {
  if (!v) return "";
  const ms = Number(BigInt(v) >> 16n);
  return new Date(ms).toLocaleString();
}

/** shortID abbreviates a peer ID: 12D3Koo…x7Yq. */
export function shortID(id) {
  return id && id.length > 16 ? id.slice(0, 8) + "…" + id.slice(-6) : id || "";
}

/** el makes an element with text content and optional class and title. */
export function el(tag, text, cls, title) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  if (title) e.title = title;
  return e;
}

/** row makes a table row of cells; a cell is text or [text, class, title]. */
export function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.append(Array.isArray(c) ? el("td", c[0], c[1], c[2]) : el("td", c));
  return tr;
}
