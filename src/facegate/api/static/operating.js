// The Settings panel: the operating point, the share of strangers that may be named as someone (false-accept target,
// FPIR), where it comes from, and the distance thresholds it gives. Anyone can read it; only an admin key can change
// it (stored in the gallery for every gate) or clear it (back to the service's FACEGATE_FPIR, else the default).
import { $, api, element, inWords, sendJSON, showMessage } from "./common.js";

const SOURCES = {
  gallery: "an admin, for every gate sharing this gallery",
  FACEGATE_FPIR: "the service's FACEGATE_FPIR setting",
  default: "the default",
};

function show(point) {
  const fixed = (distance) => (distance === null ? "—" : distance.toFixed(3));
  $("#fpir-now").textContent = `${inWords(point.fpir)} strangers may be named as someone (${point.fpir.toExponential(0)})`;
  $("#threshold-identify").textContent = point.identify_threshold === null ? "nobody is enrolled yet"
    : `named when closer than ${fixed(point.identify_threshold)} (over ${point.people} enrolled people)`;
  $("#threshold-verify").textContent = `same person when closer than ${fixed(point.verify_threshold)}`;
  $("#fpir-source").textContent = SOURCES[point.source];
  $("#fpir-default").textContent = `${inWords(point.default_fpir)} (${point.default_fpir.toExponential(0)}), `
    + `${SOURCES[point.default_source]}`;
  $("#fpir-clear").disabled = point.source !== "gallery";
  const choice = $("#fpir-choice");
  if (![...choice.options].some((option) => Number(option.value) === point.fpir)) {
    choice.append(element("option", { value: String(point.fpir) }, `${inWords(point.fpir)} (${point.fpir})`));
  }
  choice.value = [...choice.options].find((option) => Number(option.value) === point.fpir).value;
}

export async function loadOperatingPoint() {
  try { show(await api("/operating-point")); } catch (error) { showMessage(error.message); }
}

// Store (PUT) or clear (DELETE) the site's point, and show what is in force after it.
async function change(method, body) {
  const status = $("#fpir-status");
  status.textContent = "applying…";
  try {
    show(await (method === "PUT" ? sendJSON("/operating-point", method, body) : api("/operating-point", { method })));
    status.textContent = "applied: the next identification and verification at every gate use it";
  } catch (error) {
    status.textContent = "";
    showMessage(`Not changed: ${error.message}`);
  }
}

$("#fpir-form").addEventListener("submit", (event) => {
  event.preventDefault();
  change("PUT", { fpir: Number($("#fpir-choice").value) });
});
$("#fpir-clear").addEventListener("click", () => change("DELETE"));
