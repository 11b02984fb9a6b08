// Helpers every part of the page shares: element lookup and creation, the status line, and REST calls with the
// API key. The key lives in this tab's sessionStorage: it survives a reload but not the tab, and is never written
// to disk (earlier versions kept it in localStorage: gone).

export const $ = (selector, root = document) => root.querySelector(selector);
localStorage.removeItem("facegate-key");
let apiKey = sessionStorage.getItem("facegate-key") || "";

export function currentKey() {
  return apiKey;
}

export function setKey(key) {
  apiKey = key;
  sessionStorage.setItem("facegate-key", key);
}

export function showMessage(text) {
  const box = $("#message");
  box.textContent = text;
  box.hidden = !text;
}

async function send(path, options) {
  return fetch(path, { ...options, headers: { "X-API-Key": apiKey, ...(options.headers || {}) } });
}

function failure(response, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return new Error(detail);
  if (Array.isArray(detail) && detail[0] && detail[0].msg) return new Error(detail[0].msg);
  return new Error(`${response.status} ${response.statusText}`);
}

// The answer's JSON (or a Blob for images); an Error with the service's own words when it refuses. An enrollment
// that refused every photo (422 with per-photo results) is an answer, not an error.
export async function api(path, options = {}) {
  const response = await send(path, options);
  const body = response.status === 204 ? null
    : (response.headers.get("content-type") || "").includes("json") ? await response.json() : await response.blob();
  if (!response.ok && !(body && body.results)) throw failure(response, body);
  return body;
}

export function sendJSON(path, method, value) {
  return api(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(value) });
}

// Save what `path` answers as a file named `filename` (a plain link cannot send the API key).
export async function download(path, filename) {
  const response = await send(path, {});
  if (!response.ok) throw failure(response, await response.json().catch(() => null));
  const link = element("a", { href: URL.createObjectURL(await response.blob()), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
  children.forEach((child) => node.append(child));
  return node;
}

// A drop zone that also opens the file chooser when clicked; `take` gets the image files.
export function dropZone(zone, input, take) {
  zone.addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") input.click(); });
  input.addEventListener("change", () => { take([...input.files]); input.value = ""; });
  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
    event.preventDefault();
    zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    take([...event.dataTransfer.files].filter((file) => file.type.startsWith("image/")));
  });
}

// The face boxes of an identification drawn on `canvas` (sized to the image), each labelled with `label(face)`.
export function drawBoxes(canvas, width, height, faces, label) {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  ctx.lineWidth = Math.max(2, width / 200);
  const size = Math.max(14, Math.round(width / 30));
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  for (const face of faces) {
    const [x1, y1, x2, y2] = face.box;
    const colour = face.decision === "match" ? "#22c55e" : "#ef4444";
    const text = label(face);
    ctx.strokeStyle = colour;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const boxHeight = size + 10;
    const top = y1 > boxHeight ? y1 - boxHeight : y2;
    ctx.fillStyle = colour;
    ctx.fillRect(x1 - ctx.lineWidth / 2, top, ctx.measureText(text).width + 12, boxHeight);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x1 + 6, top + size + 2);
  }
}

// A false-accept target in words: 1e-3 → "1 in 1,000".
export function inWords(fpir) {
  return `1 in ${Math.round(1 / fpir).toLocaleString("en")}`;
}
