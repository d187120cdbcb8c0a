// Shared by every dashboard page; dashboard.py inlines it where a page says /* @common.js */ (one inline
// script per page, so the CSP hash covers it and no second request is needed). Pages define BASE first.
function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function getJSON(path) {
  const response = await fetch(BASE + path, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

// Dollars to a fraction of a cent when small: $0.0042, $1.23, $1,234.
function usd(value) {
  const v = Number(value || 0);
  if (v === 0) return "$0";
  if (Math.abs(v) < 0.01) return "$" + v.toFixed(6).replace(/0+$/, "");
  if (Math.abs(v) < 1) return "$" + v.toFixed(4);
  return "$" + v.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%"; }
function count(v) { return Number(v || 0).toLocaleString(); }
