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

// The person filter's choices: everyone enrolled now, keeping the one chosen.
async function people() {
  const select = $("#filter-person");
  const chosen = select.value;
  const everyone = await api("/people");
  select.replaceChildren(element("option", { value: "" }, "anyone"),
                         ...everyone.map((p) => element("option", { value: String(p.id) }, p.name)));
  select.value = everyone.some((p) => String(p.id) === chosen) ? chosen : "";
}

// The events tab opened: the person choices brought up to date, then the events.
export async function loadEvents() {
  try { await people(); } catch (error) { showMessage(error.message); return; }
  await showEvents();
}

async function showEvents() {
  const query = filters();
  query.set("limit", String(PAGE + 1));  // one more tells whether an older page exists
  query.set("offset", String(offset));
  try {
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
  showEvents();
}

$("#event-filters").addEventListener("submit", (event) => { event.preventDefault(); offset = 0; showEvents(); });
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
  if (onScreen && $("#events-auto").checked) showEvents();
}, REFRESH_MS);
