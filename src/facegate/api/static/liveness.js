// The gate's head-turn check (FACEGATE_LIVENESS): where the gate asks for it, the live view starts a challenge,
// sends the camera's frames to it and shows its instruction, then identifies with the passed challenge's id.
import { $, api } from "./common.js";

let challenge = null; // the current challenge as the service last described it
let failedAt = 0; // when the last one failed: a new one starts a little later, so the reason can be read

const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);

function show() {
  const box = $("#liveness");
  box.hidden = !challenge;
  if (!challenge) return;
  box.className = `liveness ${challenge.status}`;
  box.textContent = challenge.status === "passed" ? "Liveness check passed"
    : challenge.status === "failed" ? `Liveness check failed: ${challenge.reason}. Starting again…`
    : `${capital(challenge.instruction)} (${challenge.done} of ${challenge.steps.length} turns done)`;
}

// true while a challenge wants frames: the caller sends this frame here instead of to /identify
export function challengeRunning() {
  return challenge !== null && (challenge.status === "waiting" || challenge.status === "turning");
}

export async function challengeFrame(form) {
  challenge = await api(`/liveness/${challenge.id}/frames`, { method: "POST", body: form });
  if (challenge.status === "failed") failedAt = performance.now();
  show();
}

// the query parameter that carries a passed challenge to /identify
export function challengeQuery() {
  return challenge && challenge.status === "passed" ? `challenge=${encodeURIComponent(challenge.id)}` : "";
}

// after /identify: start a challenge where the gate refused for want of one and a face is in view
export async function afterIdentify(result) {
  if (result.liveness !== "required" || !result.faces.length || challengeRunning()) return;
  if (challenge && challenge.status === "failed" && performance.now() - failedAt < 2500) return;
  challenge = await api("/liveness", { method: "POST" });
  show();
}

export function resetChallenge() {
  challenge = null;
  show();
}
