// skserve console: the admin token, calls to the JSON API and the charts.
// Client data is only ever written with textContent or element attributes, never innerHTML.
"use strict";

const TOKEN_KEY = "skserve.adminToken";

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function flash(message, isError) {
  const box = document.getElementById("flash");
  box.textContent = message;
  box.className = isError ? "error" : "ok";
  box.hidden = false;
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function showTokenState() {
  const has = Boolean(token());
  document.getElementById("token-state").textContent = has
    ? "token kept for this tab" : "reading needs no token";
  document.getElementById("token-forget").hidden = !has;
}

function requireToken() {
  const value = token();
  if (!value) {
    flash("This change needs the admin token: enter it at the top right, then try again.", true);
    document.getElementById("admin-token").focus();
  }
  return value;
}

async function callApi(method, url, options = {}) {
  const headers = {Accept: "application/json"};
  if (options.admin) headers.Authorization = "Bearer " + options.admin;
  let body = options.body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  const response = await fetch(url, {method, headers, body, credentials: "omit"});
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!response.ok) {
    const error = new Error((data && (data.message || data.error)) || response.status + " " + response.statusText);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

function initToken() {
  const form = document.getElementById("token-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("admin-token");
    if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    showTokenState();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showTokenState();
  });
  showTokenState();
}

// --- models -------------------------------------------------------------------------------

async function promote(button) {
  const admin = requireToken();
  if (!admin) return;
  button.disabled = true;
  try {
    const record = await callApi("POST", button.dataset.url, {admin});
    flash(`${record.name} v${record.version} is in production now.`);
    document.getElementById("production-badge").textContent = `production v${record.version}`;
    const table = document.getElementById("versions");
    await htmx.ajax("GET", table.dataset.refreshUrl, {target: "#versions-box", swap: "innerHTML"});
  } catch (error) {
    flash("Promotion failed: " + error.message, true);
    button.disabled = false;
  }
}

// GET|PUT /models/<name>/traffic: {"production": 3, "canary": {"version": 4, "percent": 10}, "shadow": [5]}
function trafficText(traffic) {
  const canary = traffic.canary || null;
  const percent = canary ? canary.percent : 0;
  const parts = [];
  if (traffic.production !== undefined && traffic.production !== null) {
    parts.push(`${100 - percent} % v${traffic.production}`);
  }
  if (canary) parts.push(`canary ${percent} % v${canary.version}`);
  const shadows = traffic.shadow || [];
  if (shadows.length) parts.push("shadow " + shadows.map((v) => "v" + v).join(", "));
  return parts.join(" · ");
}

async function loadTrafficCells() {
  for (const cell of document.querySelectorAll("td[data-traffic-url]")) {
    try {
      const traffic = await callApi("GET", cell.dataset.trafficUrl);
      const text = trafficText(traffic);
      if (text) cell.textContent = text;
    } catch (_) { /* no traffic endpoint yet: the server-side text stays */ }
  }
}

async function loadTrafficSection(section) {
  let traffic;
  try { traffic = await callApi("GET", section.dataset.url); } catch (_) { return; }
  const current = document.getElementById("traffic-current");
  current.textContent = "Now: " + (trafficText(traffic) || "production only");
  current.hidden = false;
  document.getElementById("traffic-empty").hidden = true;
  const form = document.getElementById("traffic-form");
  form.hidden = false;
  form.canary_version.value = traffic.canary ? String(traffic.canary.version) : "";
  form.canary_percent.value = traffic.canary ? traffic.canary.percent : 0;
  for (const option of form.shadow_versions.options) {
    option.selected = (traffic.shadow || []).includes(Number(option.value));
  }
}

async function saveTraffic(form) {
  const admin = requireToken();
  if (!admin) return;
  const canary = form.canary_version.value
    ? {version: Number(form.canary_version.value), percent: Number(form.canary_percent.value || 0)}
    : null;
  const shadow = [...form.shadow_versions.selectedOptions].map((o) => Number(o.value));
  const body = {canary, shadow};
  try {
    await callApi("PUT", form.closest("section").dataset.url, {admin, body});
    flash("Traffic saved.");
    await loadTrafficSection(form.closest("section"));
  } catch (error) {
    flash("Traffic not saved: " + error.message, true);
  }
}

async function uploadModel(form) {
  const admin = requireToken();
  if (!admin) return;
  const data = new FormData();
  data.append("file", form.file.files[0]);
  const url = "/models/" + encodeURIComponent(form.name.value) + "/versions";
  try {
    const record = await callApi("POST", url, {admin, body: data});
    flash(`Registered ${record.name} v${record.version} (not promoted).`);
  } catch (error) {
    flash("Upload refused: " + error.message, true);
  }
}

// --- playground ---------------------------------------------------------------------------

function playgroundRecord(form) {
  const record = {};
  for (const field of form.querySelectorAll("[data-kind]")) {
    const raw = field.value;
    if (raw === "") record[field.name] = null;
    else record[field.name] = field.dataset.kind === "numeric" ? Number(raw) : raw;
  }
  return record;
}

function showPrediction(body) {
  document.getElementById("playground-prediction").textContent = String(body.predictions[0]);
  document.getElementById("playground-version").textContent = String(body.version);
  const box = document.getElementById("playground-probabilities");
  box.replaceChildren();
  const probabilities = (body.probabilities || [])[0] || {};
  for (const [label, value] of Object.entries(probabilities)) {
    const row = el("div", null, "probability");
    row.append(el("span", label, "label"));
    const bar = el("progress");
    bar.max = 1;
    bar.value = value;
    row.append(bar, el("span", (100 * value).toFixed(1) + " %", "num"));
    box.append(row);
  }
  document.getElementById("playground-result").hidden = false;
}

async function predict(form) {
  try {
    showPrediction(await callApi("POST", form.dataset.url, {body: playgroundRecord(form)}));
  } catch (error) {
    const details = error.data && error.data.details ? " " + JSON.stringify(error.data.details) : "";
    flash("Prediction refused: " + error.message + details, true);
  }
}

// --- jobs ---------------------------------------------------------------------------------

function jobBody(form) {
  const kind = form.querySelector("input[name=kind]:checked").value;
  const optional = {};
  if (form.version.value) optional.version = Number(form.version.value);
  if (form.chunk_rows.value) optional.chunk_rows = Number(form.chunk_rows.value);
  if (kind === "upload") {
    const data = new FormData();
    data.append("model", form.model.value);
    for (const [key, value] of Object.entries(optional)) data.append(key, String(value));
    data.append("file", form.file.files[0]);
    return data;
  }
  const source = {};
  if (form.table.value) source.table = form.table.value;
  if (kind === "id_range") source.id_range = [Number(form.first_id.value), Number(form.last_id.value)];
  return {model: form.model.value, source, ...optional};
}

async function submitJob(form) {
  try {
    const job = await callApi("POST", "/jobs", {body: jobBody(form)});
    window.location.href = "/ui/jobs/" + encodeURIComponent(job.id);
  } catch (error) {
    flash("Job not submitted: " + error.message, true);
  }
}

async function cancelJob(button) {
  const admin = requireToken();
  if (!admin) return;
  try {
    await callApi("DELETE", button.dataset.url, {admin});
    flash("Job canceled.");
    window.location.reload();
  } catch (error) {
    flash("Cancel failed: " + error.message, true);
  }
}

// --- charts -------------------------------------------------------------------------------

// GET /models/<name>/drift: {"features": {"age": {"psi": 0.02, "verdict": "stable", ...}, ...}}
function driftPoints(drift) {
  const features = (drift && drift.features) || {};
  return Object.entries(features).map(([name, f]) => [name, f && f.psi]);
}

function performancePoints(performance) {
  // GET /models/<name>/performance?bucket=1h: {"buckets": [{"start": iso, "accuracy": 0.87, ...}]}
  const buckets = (performance && performance.buckets) || [];
  return buckets
    .map((p) => [Date.parse(p.start) / 1000, p.accuracy ?? p.r2])
    .filter(([t, v]) => Number.isFinite(t) && typeof v === "number");
}

function drawChart(box, xs, ys, options) {
  const width = Math.max(box.clientWidth, 320);
  return new uPlot({width, height: 220, ...options}, [xs, ys], box);
}

async function loadDrift(section) {
  let points;
  try { points = driftPoints(await callApi("GET", section.dataset.driftUrl)).filter((p) => typeof p[1] === "number"); }
  catch (_) { return; }
  if (!points.length) return;
  document.getElementById("drift-empty").hidden = true;
  const names = points.map((p) => p[0]);
  drawChart(document.getElementById("drift-chart"), names.map((_, i) => i), points.map((p) => p[1]), {
    scales: {x: {time: false}},
    axes: [{values: (_, ticks) => ticks.map((t) => names[t] ?? "")}, {label: "PSI"}],
    series: [{}, {label: "drift", stroke: "#b45309", fill: "rgba(180,83,9,0.3)",
      paths: uPlot.paths.bars({size: [0.6, 40]})}],
  });
}

async function loadPerformance(section) {
  let points;
  try { points = performancePoints(await callApi("GET", section.dataset.performanceUrl)); }
  catch (_) { return; }
  if (!points.length) return;
  document.getElementById("performance-empty").hidden = true;
  drawChart(document.getElementById("performance-chart"), points.map((p) => p[0]), points.map((p) => p[1]), {
    series: [{}, {label: "accuracy", stroke: "#1d4ed8"}],
  });
}

// --- wiring -------------------------------------------------------------------------------

function onSubmit(id, handler) {
  const form = document.getElementById(id);
  if (form) form.addEventListener("submit", (event) => { event.preventDefault(); handler(form); });
}

document.addEventListener("DOMContentLoaded", () => {
  initToken();
  document.addEventListener("click", (event) => {
    const promoteButton = event.target.closest("button.promote");
    if (promoteButton) promote(promoteButton);
    const cancelButton = event.target.closest("#cancel-job");
    if (cancelButton) cancelJob(cancelButton);
  });
  onSubmit("playground", predict);
  onSubmit("job-form", submitJob);
  onSubmit("upload-form", uploadModel);
  onSubmit("traffic-form", saveTraffic);
  loadTrafficCells();
  const traffic = document.getElementById("traffic");
  if (traffic) loadTrafficSection(traffic);
  const monitoring = document.getElementById("monitoring");
  if (monitoring) { loadDrift(monitoring); loadPerformance(monitoring); }
  document.body.dataset.ready = "true";
});
