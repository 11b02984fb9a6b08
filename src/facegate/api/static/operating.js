// The Settings panel: the operating point, the share of strangers that may be named as someone (false-accept target,
// FPIR), and the distance thresholds it gives. Anyone can read it; only an admin key can change it.
import { $, api, element, inWords, sendJSON, showMessage } from "./common.js";

function show(point) {
  const fixed = (distance) => (distance === null ? "—" : distance.toFixed(3));
  $("#fpir-now").textContent = `${inWords(point.fpir)} strangers may be named as someone (${point.fpir.toExponential(0)})`;
  $("#threshold-identify").textContent = point.identify_threshold === null ? "nobody is enrolled yet"
    : `named when closer than ${fixed(point.identify_threshold)} (over ${point.people} enrolled people)`;
  $("#threshold-verify").textContent = `same person when closer than ${fixed(point.verify_threshold)}`;
  $("#fpir-default").textContent = `${inWords(point.default_fpir)} (${point.default_fpir.toExponential(0)})`;
  const choice = $("#fpir-choice");
  if (![...choice.options].some((option) => Number(option.value) === point.fpir)) {
    choice.append(element("option", { value: String(point.fpir) }, `${inWords(point.fpir)} (${point.fpir})`));
  }
  choice.value = [...choice.options].find((option) => Number(option.value) === point.fpir).value;
}

export async function loadOperatingPoint() {
  try { show(await api("/operating-point")); } catch (error) { showMessage(error.message); }
}

$("#fpir-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = $("#fpir-status");
  status.textContent = "applying…";
  try {
    show(await sendJSON("/operating-point", "PUT", { fpir: Number($("#fpir-choice").value) }));
    status.textContent = "applied: the next identification and verification use it";
  } catch (error) {
    status.textContent = "";
    showMessage(`Not changed: ${error.message}`);
  }
});
