// The Identify panel: who is in a photo dropped or chosen here, with boxes and names drawn on it.
import { $, api, drawBoxes, dropZone, element, showMessage } from "./common.js";

function faceLine(face) {
  const text = face.decision === "match" ? `${face.name} (similarity ${face.score.toFixed(2)})`
    : "unknown: not anyone enrolled";
  return element("li", { class: face.decision }, text);
}

async function identify(files) {
  const file = files[0];
  if (!file) return;
  showMessage("");
  $("#identify-summary").textContent = "looking…";
  $("#identify-names").replaceChildren();
  const overlay = $("#identify-overlay");
  overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
  const img = $("#identify-photo");
  img.src = URL.createObjectURL(file);
  await img.decode().catch(() => {});
  $("#identify-view").hidden = false;
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const result = await api("/identify", { method: "POST", body: form });
    drawBoxes(overlay, img.naturalWidth, img.naturalHeight, result.faces,
              (face) => (face.decision === "match" ? face.name : "unknown"));
    const named = result.faces.filter((face) => face.decision === "match").length;
    $("#identify-summary").textContent = !result.faces.length ? "No face found in this photo."
      : `${result.faces.length} face(s), ${named} named.`
        + (result.threshold ? ` A face is named only when closer than ${result.threshold.toFixed(3)} to them.` : "");
    $("#identify-names").replaceChildren(...result.faces.map(faceLine));
  } catch (error) {
    $("#identify-summary").textContent = "";
    showMessage(`${file.name}: ${error.message}`);
  }
}

dropZone($("#identify-drop"), $("#identify-input"), identify);
