// The page's behaviour: read the text, call the JSON API, draw the verdict and one bar per class.
// Everything the user typed or the server sent is written with textContent, never as HTML.
"use strict";

// task and calibration stay null until /api/v1/model says otherwise (or for a server that
// predates them): the page then words the verdict as the hate-speech app always did.
const state = { maxChars: 5000, toxicLabel: "hate", task: null, calibration: null, busy: false };

// Bidirectional controls (ALM, LRM, RLM, LRE..RLO, LRI..PDI): invisible, yet U+202E shows a
// sentence reversed, so the echo would not look like what was scored. Shown as their code point.
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu;

function $(id) {
  return document.getElementById(id);
}

function showError(message) {
  $("error").textContent = message;
  $("text").setAttribute("aria-invalid", message ? "true" : "false");
}

function percent(value) {
  return (value * 100).toFixed(1) + "%";
}

// Code points, as the server counts (Python's len); String.length counts UTF-16 units, so an
// emoji would count twice.
function codePoints(text) {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

function updateCount() {
  const length = codePoints($("text").value);
  $("count").textContent = length ? `${length} / ${state.maxChars} characters` : "";
}

function describeError(status, body) {
  if (status === 422 && body && Array.isArray(body.detail) && body.detail.length) {
    return "The server refused the text: " + body.detail[0].msg + ".";
  }
  if (status === 413) {
    // A text past the passage limit is named in the detail; a body too large is not ours to name.
    if (body && typeof body.detail === "string" && body.detail.startsWith("text ")) {
      return `The server will not read a text this long (${body.detail}).`;
    }
    return "The text is too large to send.";
  }
  if (status === 503) return "The server is busy or starting; try again in a moment.";
  if (body && typeof body.detail === "string") return body.detail;
  return `The server answered with an error (${status}).`;
}

function isolate(element, text) {
  // In a <bdi dir="auto">, so the text's direction cannot spill onto the verdict around it.
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(BIDI_CONTROLS)) {
    parts.push(text.slice(last, match.index));
    const mark = document.createElement("span");
    mark.className = "control";
    mark.textContent = `[U+${match[0].codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}]`;
    parts.push(mark);
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  element.replaceChildren(...parts);
}

function hateSpeech() {
  return !state.task || state.task.hate_speech === true;
}

// "Toxic" belongs to the hate-speech task only; another task's verdict is its own label's name.
function verdictText(result) {
  if (hateSpeech()) return result.toxic ? "Toxic" : "Not toxic";
  if (!state.toxicLabel) return result.label;
  return result.toxic ? state.toxicLabel : `not ${state.toxicLabel}`;
}

// The reliability bin a score falls in: [low, high), the last one closed at 1.
function binOf(bins, p) {
  return bins.find((bin, i) => p >= bin.low && (p < bin.high || i === bins.length - 1));
}

// What the percentage is: a calibrated probability checked on held-out texts, or a bare score.
function scoreMeaning(name, p) {
  const calibration = state.calibration;
  if (!calibration || !state.toxicLabel || !Array.isArray(calibration.reliability)) {
    return `${name}: an uncalibrated model score, not a probability.`;
  }
  const split = calibration.split ? `${calibration.split} split` : "held-out data";
  const how =
    typeof calibration.temperature === "number" && calibration.temperature !== 1
      ? `${name} from the model, calibrated by temperature scaling on validation data`
      : `${name} from the model, not temperature-scaled`;
  const bin = binOf(calibration.reliability, p);
  const range = bin
    ? `${Math.round(bin.low * 100)}–${Math.round(bin.high * 100)}%`
    : `about ${Math.round(p * 100)}%`;
  if (!bin || !bin.count || typeof bin.observed_rate !== "number") {
    return `${how}; no text in the ${split} was scored ${range}, so this range is unchecked.`;
  }
  const positives = hateSpeech() ? "hateful" : `labelled ${state.toxicLabel}`;
  return (
    `${how}: of the ${bin.count} texts in the ${split} scored ${range}, ` +
    `${Math.round(bin.observed_rate * 100)}% were ${positives}.`
  );
}

function render(text, result) {
  $("verdict").textContent = verdictText(result);
  $("verdict").className = result.toxic ? "toxic" : "clean";
  // The percentage is P(positive label), whatever the verdict, so the line under it can say how
  // often texts scored like this were positive; without a positive label, the top label's.
  const scoreName = `P(${state.toxicLabel || result.label})`;
  const p = state.toxicLabel ? result.scores[state.toxicLabel] || 0 : result.score;
  $("confidence").textContent = `${scoreName} ${percent(p)}`;
  $("score-meaning").textContent = scoreMeaning(scoreName, p);
  isolate($("echo"), text);
  const passage = typeof result.passage === "string" ? result.passage : null;
  if (passage !== null) {
    const decider = hateSpeech() ? "most toxic" : `most ${state.toxicLabel || "confident"}`;
    $("truncated").textContent =
      `This text is longer than the model reads at once: it was read in ${result.windows} ` +
      `passages (sentence by sentence), and the ${decider} one decided.`;
    isolate($("passage"), passage);
  } else {
    $("passage").replaceChildren();
  }
  $("passage-block").hidden = passage === null;

  const bars = $("bars");
  bars.replaceChildren();
  const entries = Object.entries(result.scores).sort((a, b) => b[1] - a[1]);
  for (const [label, probability] of entries) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "bar-label";
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "bar-track";
    track.setAttribute("role", "meter");
    track.setAttribute("aria-label", `${label} probability`);
    track.setAttribute("aria-valuemin", "0");
    track.setAttribute("aria-valuemax", "100");
    track.setAttribute("aria-valuenow", (probability * 100).toFixed(1));
    const fill = document.createElement("span");
    fill.className = label === state.toxicLabel ? "bar-fill toxic" : "bar-fill";
    fill.style.width = percent(probability); // CSSOM, allowed by the page's style-src 'self'
    track.append(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = percent(probability);
    item.append(name, track, value);
    bars.append(item);
  }
  $("result").hidden = false;
}

async function submit(event) {
  if (event) event.preventDefault();
  // One request at a time, whichever key or button asked: a disabled button stops clicks only.
  if (state.busy) return;
  const text = $("text").value;
  // Whatever comes of this request, the last one's verdict no longer belongs on screen.
  $("result").hidden = true;
  // The server's rule (modeldistill.text): controls, format characters (zero-width spaces, soft
  // hyphens), separators, lone combining marks and variation selectors, private-use characters,
  // Braille blanks, Hangul fillers and U+FFFD are not text; nothing else left means nothing to score.
  if (!/[^\s\p{Cc}\p{Cf}\p{Z}\p{Mn}\p{Me}\p{Co}\uFFFD\u2800\u115F\u1160\u3164\uFFA0]/u.test(text)) {
    showError("Type some text first.");
    $("text").focus();
    return;
  }
  const length = codePoints(text);
  if (length > state.maxChars) {
    showError(`Too long: ${length} characters; the limit is ${state.maxChars}.`);
    $("text").focus();
    return;
  }
  showError("");
  state.busy = true;
  const button = $("submit");
  button.disabled = true;
  button.textContent = "Predicting…";
  try {
    const response = await fetch("/api/v1/predict", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ texts: [text] }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      showError(describeError(response.status, body));
      return;
    }
    render(text, body.results[0]);
  } catch (error) {
    showError("Could not reach the server.");
  } finally {
    state.busy = false;
    button.disabled = false;
    button.textContent = "Get Prediction";
    // Back to the box, to edit and send again (a button disabled while focused drops focus).
    $("text").focus();
  }
}

function metric(list, name, value, digits = 3) {
  if (typeof value !== "number") return;
  const term = document.createElement("dt");
  term.textContent = name;
  const detail = document.createElement("dd");
  detail.textContent = value.toFixed(digits);
  list.append(term, detail);
}

// The lead and the definition under it speak of hate speech only for the hate-speech task.
function describeTask() {
  const task = state.task;
  if (!task || task.hate_speech) return;
  $("lead").textContent = task.title
    ? `${task.title}: a distilled BERT student classifies each text.`
    : "A distilled BERT student classifies each text.";
  const definition = $("definition");
  if (task.positive_label && task.positive_meaning) {
    definition.textContent = `Here "${task.positive_label}" means ${task.positive_meaning}.`;
  } else {
    definition.hidden = true;
  }
}

async function loadModel() {
  try {
    const response = await fetch("/api/v1/model");
    if (!response.ok) throw new Error(String(response.status));
    const model = await response.json();
    state.maxChars = model.limits.max_chars;
    state.toxicLabel = model.toxic_label;
    state.task = model.task && typeof model.task === "object" ? model.task : null;
    state.calibration =
      model.calibration && typeof model.calibration === "object" ? model.calibration : null;
    describeTask();
    $("model-name").textContent =
      `${model.name} (version ${model.version}, ${model.backend} backend, ${
        model.toxic_label
          ? `${hateSpeech() ? "toxic" : model.toxic_label} when P(${model.toxic_label}) ≥ ${model.threshold.toFixed(3)}`
          : "no toxic label"
      })`;
    const list = $("model-metrics");
    list.replaceChildren();
    const m = model.metrics;
    if (!m) {
      $("model-name").textContent += " · no test metrics shipped with this model";
      return;
    }
    metric(list, "test accuracy", m.accuracy);
    metric(list, "test macro F1", m.macro_f1);
    if (m.hate) metric(list, "hate F1", m.hate.f1);
    if (typeof m.num_examples === "number") metric(list, "test examples", m.num_examples, 0);
    if (state.calibration) metric(list, "expected calibration error", state.calibration.ece);
  } catch (error) {
    $("model-name").textContent = "Model details are unavailable.";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("predict-form").addEventListener("submit", submit);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submit(event);
  });
  $("text").addEventListener("input", () => {
    updateCount();
    if ($("error").textContent) showError("");
  });
  loadModel();
});
