// FaceGate web page: plain JavaScript modules against the REST API. This one holds the tabs, the API key, enrollment
// and the live camera view; the other panels are in their own modules.
import { $, api, currentKey, drawBoxes, dropZone, element, setKey, showMessage } from "./common.js";
import { loadEvents } from "./events.js";
import { loadGallery } from "./gallery.js";
import "./identify.js";
import { afterIdentify, challengeFrame, challengeQuery, challengeRunning, resetChallenge } from "./liveness.js";
import { loadOperatingPoint } from "./operating.js";

// tabs
const loaders = { gallery: loadGallery, events: loadEvents, settings: loadOperatingPoint };
document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
  document.querySelectorAll(".tab, .panel").forEach((node) => node.classList.remove("active"));
  tab.classList.add("active");
  $("#" + tab.dataset.tab).classList.add("active");
  showMessage("");
  (loaders[tab.dataset.tab] || (() => {}))();
}));

// API key
$("#api-key").value = currentKey();
$("#key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  setKey($("#api-key").value.trim());
  await checkKey();
});

// The key's status in plain words: whether recognition already knows every change to the gallery.
async function checkKey() {
  try {
    const status = await api("/gallery");
    $("#key-status").textContent = status.revision === status.fitted_revision ? "gallery up to date" : "updating…";
    showMessage("");
    if (status.revision !== status.fitted_revision) setTimeout(checkKey, 2000);
  } catch (error) {
    $("#key-status").textContent = "";
    showMessage(currentKey() ? `API key refused: ${error.message}`
      : "Enter an API key (facegate keys create --role admin).");
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

dropZone($("#drop-zone"), $("#file-input"), enrollFiles);

// live recognition
const video = $("#video"), overlay = $("#overlay"), grab = document.createElement("canvas");
let stream = null;

// Browsers give cameras only to secure pages: HTTPS, or http://localhost on the machine itself.
function cameraBlocked() {
  if (window.isSecureContext && navigator.mediaDevices) return "";
  return "The camera only works on a secure page: open this page over HTTPS (see the README's TLS note), or as "
    + `http://localhost:${location.port || 80}/ on the machine that runs the service. It was opened as ${location.origin}.`;
}

async function startCamera() {
  const blocked = cameraBlocked();
  if (blocked) {
    showMessage(blocked);
    $("#camera-hint").textContent = "Camera unavailable on this insecure page (http://): open it over HTTPS.";
    return;
  }
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
  $("#live-names").replaceChildren();
  resetChallenge();
}

function drawFaces(faces) {
  const label = (face) => (face.decision === "match" ? `${face.name} ${face.score.toFixed(2)}` : "unknown") + estimate(face);
  drawBoxes(overlay, video.videoWidth, video.videoHeight, faces, label);
  $("#live-names").replaceChildren(...(faces.length ? faces.map((face) =>
    element("li", { class: face.decision }, face.name, element("span", { class: "estimate" }, estimate(face))))
    : [element("li", { class: "none" }, "No face in view: step in front of the camera, facing it")]));
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
      if (challengeRunning()) {
        await challengeFrame(form);
        continue;
      }
      const query = [$("#live-attributes").checked ? "attributes=true" : "", challengeQuery()].filter(Boolean).join("&");
      const result = await api(`/identify${query ? `?${query}` : ""}`, { method: "POST", body: form });
      if (stream) drawFaces(result.faces);
      await afterIdentify(result);
      $("#live-stats").textContent = `${Math.round(performance.now() - started)} ms per frame`;
    } catch (error) {
      showMessage(error.message);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

$("#live-toggle").addEventListener("click", () => (stream ? stopCamera() : startCamera()));

checkKey();
