// The Events panel: access events (one per person per passage), newest first, a page at a time, filtered by person,
// gate, decision and time, exported whole as CSV or JSON, and refreshed every few seconds while it is on screen.
import { $, api, download, element, showMessage } from "./common.js";

const PAGE = 25;
const REFRESH_MS = 5000;
let offset = 0;

// The filters as REST query parameters (times from the browser's local time to UTC).
function filters() {
  const query = new URLSearchParams();
  const set = (name, value) => { if (value) query.set(name, value); };
  set("person_id", $("#filter-person").value);
  set("gate", $("#filter-gate").value.trim());
  set("decision", $("#filter-decision").value);
  set("since", $("#filter-since").value && new Date($("#filter-since").value).toISOString());
  set("until", $("#filter-until").value && new Date($("#filter-until").value).toISOString());
  return query;
}

function row(e) {
  const seconds = Math.round((new Date(e.last_seen) - new Date(e.time)) / 1000);
  return element("tr", {},
    element("td", { "data-label": "Time" }, new Date(e.time).toLocaleString()),
    element("td", { "data-label": "Gate" }, e.gate),
    element("td", { "data-label": "Person" }, e.name || (e.person_id ? "(deleted person)" : "—")),
    element("td", { "data-label": "Decision", class: e.decision }, e.decision),
    element("td", { "data-label": "Score" }, e.score.toFixed(2)),
    element("td", { "data-label": "In view" }, `${seconds} s`));
}

async function people() {
  const select = $("#filter-person");
  if (select.options.length > 1) return;
  const everyone = await api("/people");
  select.append(...everyone.map((p) => element("option", { value: String(p.id) }, p.name)));
}

export async function loadEvents() {
  const query = filters();
  query.set("limit", String(PAGE + 1));  // one more tells whether an older page exists
  query.set("offset", String(offset));
  try {
    await people();
    const events = await api(`/events?${query}`);
    const shown = events.slice(0, PAGE);
    $("#events-table tbody").replaceChildren(...shown.map(row));
    $("#events-empty").hidden = shown.length > 0;
    $("#events-page").textContent = shown.length ? `events ${offset + 1}–${offset + shown.length}` : "";
    $("#events-newer").disabled = offset === 0;
    $("#events-older").disabled = events.length <= PAGE;
  } catch (error) { showMessage(error.message); }
}

function turnPage(step) {
  offset = Math.max(0, offset + step);
  loadEvents();
}

$("#event-filters").addEventListener("submit", (event) => { event.preventDefault(); offset = 0; loadEvents(); });
$("#events-newer").addEventListener("click", () => turnPage(-PAGE));
$("#events-older").addEventListener("click", () => turnPage(PAGE));
for (const format of ["csv", "json"]) {
  $(`#export-${format}`).addEventListener("click", () => {
    const query = filters();
    query.set("format", format);
    download(`/events/export?${query}`, `events.${format}`).catch((error) => showMessage(error.message));
  });
}

setInterval(() => {
  const onScreen = $("#events").classList.contains("active") && document.visibilityState === "visible";
  if (onScreen && $("#events-auto").checked) loadEvents();
}, REFRESH_MS);
