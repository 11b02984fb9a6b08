// FaceGate web page: plain JavaScript against the REST API. The API key lives in this tab's sessionStorage: it
// survives a reload but not the tab, and is never written to disk (earlier versions kept it in localStorage: gone).
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
localStorage.removeItem("facegate-key");
let apiKey = sessionStorage.getItem("facegate-key") || "";

function showMessage(text) {
  const box = $("#message");
  box.textContent = text;
  box.hidden = !text;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { "X-API-Key": apiKey, ...(options.headers || {}) } });
  const body = response.status === 204 ? null
    : (response.headers.get("content-type") || "").includes("json") ? await response.json() : await response.blob();
  if (!response.ok && !(body && body.results)) {
    const detail = body && body.detail;
    throw new Error(typeof detail === "string" ? detail : `${response.status} ${response.statusText}`);
  }
  return body;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
  children.forEach((child) => node.append(child));
  return node;
}

// tabs
const loaders = { gallery: loadGallery, events: loadEvents };
document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
  document.querySelectorAll(".tab, .panel").forEach((node) => node.classList.remove("active"));
  tab.classList.add("active");
  $("#" + tab.dataset.tab).classList.add("active");
  showMessage("");
  (loaders[tab.dataset.tab] || (() => {}))();
}));

// API key
$("#api-key").value = apiKey;
$("#key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  apiKey = $("#api-key").value.trim();
  sessionStorage.setItem("facegate-key", apiKey);
  await checkKey();
});

async function checkKey() {
  try {
    const status = await api("/gallery");
    $("#key-status").textContent = `gallery revision ${status.revision}`;
    showMessage("");
  } catch (error) {
    $("#key-status").textContent = "";
    showMessage(apiKey ? `API key refused: ${error.message}` : "Enter an API key (facegate keys create --role admin).");
  }
}

// enroll
async function personId(name) {
  const people = await api("/people");
  const known = people.find((p) => p.name === name);
  if (known) return known.id;
  const created = await api("/people", { method: "POST", headers: { "Content-Type": "application/json" },
                                         body: JSON.stringify({ name }) });
  return created.id;
}

async function enrollFiles(files) {
  const name = $("#enroll-name").value.trim();
  if (!name) { showMessage("Type the person's name first, then drop their photos."); return; }
  showMessage("");
  let id;
  try { id = await personId(name); } catch (error) { showMessage(error.message); return; }
  for (const file of files) {
    const item = element("li", { "data-status": "pending" }, element("img", { src: URL.createObjectURL(file), alt: "" }));
    const text = element("div", {}, element("div", { class: "verdict" }, "checking…"),
                         element("div", { class: "filename" }, file.name), element("div", { class: "reasons" }));
    item.append(text);
    $("#enroll-results").prepend(item);
    const form = new FormData();
    form.append("files", file, file.name);
    form.append("largest", $("#enroll-largest").checked);
    try {
      const verdict = (await api(`/people/${id}/samples`, { method: "POST", body: form })).results[0];
      item.dataset.status = verdict.accepted ? "accepted" : "refused";
      $(".verdict", item).textContent = verdict.accepted ? `accepted for ${name}` : "refused";
      $(".reasons", item).textContent = verdict.accepted
        ? `face ${verdict.figures.face_px} px, sharpness ${verdict.figures.sharpness}` : verdict.reasons.join("; ");
    } catch (error) {
      item.dataset.status = "refused";
      $(".verdict", item).textContent = "refused";
      $(".reasons", item).textContent = error.message;
    }
  }
}

const dropZone = $("#drop-zone");
dropZone.addEventListener("click", () => $("#file-input").click());
$("#file-input").addEventListener("change", (event) => enrollFiles([...event.target.files]));
["dragenter", "dragover"].forEach((type) => dropZone.addEventListener(type, (event) => {
  event.preventDefault();
  dropZone.classList.add("over");
}));
["dragleave", "drop"].forEach((type) => dropZone.addEventListener(type, () => dropZone.classList.remove("over")));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  enrollFiles([...event.dataTransfer.files].filter((file) => file.type.startsWith("image/")));
});

// gallery
function thumbnail(sampleId) {
  const img = element("img", { alt: `sample ${sampleId}`, "data-sample": sampleId });
  api(`/samples/${sampleId}/thumbnail`).then((blob) => { img.src = URL.createObjectURL(blob); }).catch(() => {});
  return img;
}

async function loadGallery() {
  try {
    const people = await api("/people");
    const cards = await Promise.all(people.map(async (person) => {
      const samples = await api(`/people/${person.id}/samples`);
      const remove = element("button", { class: "danger" }, "Delete");
      remove.addEventListener("click", async () => {
        if (!confirm(`Delete ${person.name} and all ${person.samples} sample(s)?`)) return;
        try { await api(`/people/${person.id}`, { method: "DELETE" }); loadGallery(); }
        catch (error) { showMessage(error.message); }
      });
      return element("article", { class: "person-card", "data-person": person.name },
        element("header", {}, element("h3", {}, person.name),
                element("span", { class: "muted" }, `${person.samples} sample(s)`), remove),
        element("div", { class: "thumbs" }, ...samples.map((s) => thumbnail(s.id))));
    }));
    $("#people").replaceChildren(...cards);
    $("#gallery-summary").textContent = `${people.length} people`;
  } catch (error) { showMessage(error.message); }
}
$("#gallery-refresh").addEventListener("click", loadGallery);

// live recognition
const video = $("#video"), overlay = $("#overlay"), grab = document.createElement("canvas");
let stream = null;

async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (error) { showMessage(`Camera unavailable: ${error.message}`); return; }
  video.srcObject = stream;
  await video.play();
  $("#camera-hint").hidden = true;
  $("#live-toggle").textContent = "Stop camera";
  recognise();
}

function stopCamera() {
  stream.getTracks().forEach((track) => track.stop());
  stream = null;
  video.srcObject = null;
  overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
  $("#camera-hint").hidden = false;
  $("#live-toggle").textContent = "Start camera";
}

function drawFaces(faces) {
  overlay.width = video.videoWidth;
  overlay.height = video.videoHeight;
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  ctx.lineWidth = Math.max(2, overlay.width / 200);
  const size = Math.max(14, Math.round(overlay.width / 30));
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  for (const face of faces) {
    const [x1, y1, x2, y2] = face.box;
    const colour = face.decision === "match" ? "#22c55e" : "#ef4444";
    const label = (face.decision === "match" ? `${face.name} ${face.score.toFixed(2)}` : "unknown") + estimate(face);
    ctx.strokeStyle = colour;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const height = size + 10;
    const top = y1 > height ? y1 - height : y2;
    ctx.fillStyle = colour;
    ctx.fillRect(x1 - ctx.lineWidth / 2, top, ctx.measureText(label).width + 12, height);
    ctx.fillStyle = "#fff";
    ctx.fillText(label, x1 + 6, top + size + 2);
  }
  $("#live-names").replaceChildren(...faces.map((face) =>
    element("li", { class: face.decision }, face.name, element("span", { class: "estimate" }, estimate(face)))));
}

// age and gender, when asked for: estimates, shown as such (their measured accuracy is in the README)
function estimate(face) {
  return face.gender ? ` · ${face.gender}, about ${Math.round(face.age)}` : "";
}

async function recognise() {
  while (stream) {
    grab.width = video.videoWidth;
    grab.height = video.videoHeight;
    grab.getContext("2d").drawImage(video, 0, 0);
    const frame = await new Promise((resolve) => grab.toBlob(resolve, "image/jpeg", 0.85));
    const form = new FormData();
    form.append("image", frame, "frame.jpg");
    const started = performance.now();
    try {
      const query = $("#live-attributes").checked ? "?attributes=true" : "";
      const result = await api(`/identify${query}`, { method: "POST", body: form });
      if (stream) drawFaces(result.faces);
      $("#live-stats").textContent = `${Math.round(performance.now() - started)} ms per frame · ${result.identifier}`;
    } catch (error) {
      showMessage(error.message);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

$("#live-toggle").addEventListener("click", () => (stream ? stopCamera() : startCamera()));

// events
async function loadEvents() {
  const query = new URLSearchParams({ limit: "200" });
  if ($("#filter-decision").value) query.set("decision", $("#filter-decision").value);
  if ($("#filter-gate").value.trim()) query.set("gate", $("#filter-gate").value.trim());
  if ($("#filter-since").value) query.set("since", new Date($("#filter-since").value).toISOString());
  try {
    const events = await api(`/events?${query}`);
    $("#events-table tbody").replaceChildren(...events.map((e) => element("tr", {},
      element("td", {}, new Date(e.time).toLocaleString()), element("td", {}, e.gate),
      element("td", {}, e.name || (e.person_id ? `#${e.person_id} (deleted)` : "—")),
      element("td", { class: e.decision }, e.decision), element("td", {}, e.score.toFixed(2)))));
  } catch (error) { showMessage(error.message); }
}
$("#event-filters").addEventListener("submit", (event) => { event.preventDefault(); loadEvents(); });

checkKey();
