// The Gallery panel: a card per enrolled person with their photos' face crops; rename the person, delete one photo
// or the whole person, and add photos to them.
import { $, api, element, sendJSON, showMessage } from "./common.js";

function thumbnail(sample, person) {
  const img = element("img", { alt: `photo ${sample.filename || sample.id} of ${person.name}`, "data-sample": sample.id });
  api(`/samples/${sample.id}/thumbnail`).then((blob) => { img.src = URL.createObjectURL(blob); }).catch(() => {});
  const remove = element("button", { class: "remove", title: "Delete this photo", "aria-label": "Delete this photo" }, "×");
  remove.addEventListener("click", async () => {
    if (!confirm(`Delete this photo of ${person.name}? Recognition forgets it at once.`)) return;
    try { await api(`/samples/${sample.id}`, { method: "DELETE" }); await loadGallery(); }
    catch (error) { showMessage(error.message); }
  });
  return element("figure", { class: "sample" }, img, remove);
}

function renameForm(person, title) {
  const input = element("input", { value: person.name, "aria-label": "new name", maxlength: "200" });
  const form = element("form", { class: "rename" }, input, element("button", { type: "submit" }, "Save"),
                       element("button", { type: "button", class: "cancel" }, "Cancel"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try { await sendJSON(`/people/${person.id}`, "PATCH", { name: input.value.trim() }); await loadGallery(); }
    catch (error) { showMessage(`Could not rename ${person.name}: ${error.message}`); }
  });
  $(".cancel", form).addEventListener("click", () => form.replaceWith(title));
  return form;
}

// Upload photos to the person; the card then says how many were added and why any were refused.
async function addPhotos(person, files, note) {
  if (!files.length) return;
  note.textContent = `checking ${files.length} photo(s)…`;
  const form = new FormData();
  files.forEach((file) => form.append("files", file, file.name));
  try {
    const result = await api(`/people/${person.id}/samples`, { method: "POST", body: form });
    const refused = result.results.filter((r) => !r.accepted).map((r) => `${r.filename}: ${r.reasons.join("; ")}`);
    const text = [`${result.accepted} photo(s) added`, ...refused.map((r) => `refused ${r}`)].join(" · ");
    await loadGallery();
    showMessage("");
    $(`article[data-id="${person.id}"] .note`).textContent = text;
  } catch (error) { note.textContent = error.message; }
}

async function card(person) {
  const samples = await api(`/people/${person.id}/samples`);
  const title = element("h3", {}, person.name);
  const rename = element("button", {}, "Rename");
  rename.addEventListener("click", () => title.isConnected && title.replaceWith(renameForm(person, title)));
  const remove = element("button", { class: "danger" }, "Delete");
  remove.addEventListener("click", async () => {
    if (!confirm(`Delete ${person.name} and all ${person.samples} photo(s)?`)) return;
    try { await api(`/people/${person.id}`, { method: "DELETE" }); await loadGallery(); }
    catch (error) { showMessage(error.message); }
  });
  const note = element("p", { class: "note muted" });
  const chooser = element("input", { type: "file", accept: "image/*", multiple: "", hidden: "" });
  chooser.addEventListener("change", () => { addPhotos(person, [...chooser.files], note); chooser.value = ""; });
  const add = element("button", { class: "add" }, "Add photos");
  add.addEventListener("click", () => chooser.click());
  return element("article", { class: "person-card", "data-person": person.name, "data-id": person.id },
    element("header", {}, title, element("span", { class: "muted" }, `${person.samples} photo(s)`)),
    element("div", { class: "thumbs" }, ...samples.map((s) => thumbnail(s, person))),
    element("div", { class: "actions" }, add, rename, remove, chooser), note);
}

export async function loadGallery() {
  try {
    const people = await api("/people");
    $("#people").replaceChildren(...await Promise.all(people.map(card)));
    $("#gallery-summary").textContent = `${people.length} people`;
  } catch (error) { showMessage(error.message); }
}

$("#gallery-refresh").addEventListener("click", loadGallery);
