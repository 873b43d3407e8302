/* mitrasim page: plain JS, no build step, no inline script (CSP script-src 'self'). */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const X0 = 30, X1 = 370, YC = 110, GAP_PX_PER_MM = 3;
  const state = {
    token: sessionStorage.getItem("mitrasim-token") || "",
    meta: null, caseData: null, clips: [], valve: null, result: null,
    selected: -1, savedId: null, seq: 0, controller: null, timer: null,
  };

  // ---------- API ----------
  async function api(path, opts = {}) {
    const headers = { "Content-Type": "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const res = await fetch(path, { method: opts.method || "GET", headers, body: opts.body ? JSON.stringify(opts.body) : undefined, signal: opts.signal });
    let data = null;
    try { data = await res.json(); } catch (_) { data = null; }
    if (res.status === 401) { $("token-box").hidden = false; }
    if (!res.ok) {
      const err = (data && data.error) || { message: res.status + " " + res.statusText };
      const e = new Error(err.message || "request failed"); e.status = res.status; e.field = err.field; throw e;
    }
    return data;
  }
  function status(msg) { $("status").textContent = msg; }
  function fmt(x, d) { return (x === null || x === undefined || Number.isNaN(x)) ? "–" : Number(x).toFixed(d); }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---------- case form ----------
  function getPath(obj, path) { return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj); }
  function setPath(obj, path, value) {
    const keys = path.split("."); let o = obj;
    keys.slice(0, -1).forEach((k, i) => {
      if (o[k] == null) o[k] = /^\d+$/.test(keys[i + 1]) ? [] : {};
      o = o[k];
    });
    o[keys[keys.length - 1]] = value;
  }
  function fillForm(name, c) {
    $("case-name").value = name || c.name || "";
    document.querySelectorAll("#case-form [data-path]").forEach((inp) => {
      const p = inp.dataset.path; if (p === "name") return;
      const v = getPath(c, p);
      inp.value = v === undefined || v === null ? "" : (Array.isArray(v) ? v.join(",") : v);
    });
    clearErrors();
  }
  function readForm() {
    const c = JSON.parse(JSON.stringify(state.caseData || {}));
    document.querySelectorAll("#case-form [data-path]").forEach((inp) => {
      const p = inp.dataset.path; if (p === "name") return;
      let v = inp.value.trim();
      if (p.endsWith("segments")) v = v ? v.split(/[\s,]+/).filter(Boolean).map((s) => s.toUpperCase()) : [];
      else if (inp.type === "number") v = v === "" ? null : Number(v);
      if (v === null && !p.startsWith("valve.lesions")) { deletePath(c, p); return; }
      if (v === null) { deletePath(c, p); return; }
      setPath(c, p, v);
    });
    c.name = $("case-name").value.trim() || undefined;
    return c;
  }
  function deletePath(obj, path) {
    const keys = path.split("."); const parent = getPath(obj, keys.slice(0, -1).join("."));
    if (parent && typeof parent === "object") delete parent[keys[keys.length - 1]];
  }
  function clearErrors() {
    $("case-errors").textContent = "";
    document.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  }
  function showError(e) {
    clearErrors();
    const field = e.field || "";
    $("case-errors").textContent = e.message;
    const inp = document.querySelector(`[data-path="${CSS.escape(field)}"]`);
    if (inp) { inp.setAttribute("aria-invalid", "true"); inp.setAttribute("aria-describedby", "case-errors"); }
  }

  // ---------- valve map ----------
  function L() { return state.valve ? state.valve.line_length_mm : (getPath(state.caseData, "valve.annulus.ic_diameter_mm") || 35); }
  function xOf(mm) { return X0 + (mm / L()) * (X1 - X0); }
  function mmOf(x) { return ((x - X0) / (X1 - X0)) * L(); }
  function clampPos(mm, device) {
    const d = state.meta.devices.find((x) => x.name === device); const half = d ? d.width_mm / 2 : 2;
    return Math.min(L() - half, Math.max(half, Math.round(mm * 2) / 2));
  }
  function segmentName(mm) {
    const e = state.valve ? state.valve.segment_edges_mm : [0, 0.3 * L(), 0.7 * L(), L()];
    const i = mm < e[1] ? 1 : mm < e[2] ? 2 : 3; return `A${i}/P${i}`;
  }
  function gapPolygon(s, g, cls) {
    const top = s.map((x, i) => `${xOf(x).toFixed(1)},${(YC - g[i] * GAP_PX_PER_MM).toFixed(1)}`);
    const bot = s.slice().reverse().map((x, i) => `${xOf(x).toFixed(1)},${(YC + g[g.length - 1 - i] * GAP_PX_PER_MM).toFixed(1)}`);
    return svg("polygon", { points: top.concat(bot).join(" "), class: cls, "aria-hidden": "true" });
  }
  function drawMap() {
    const m = $("valve-map"); m.replaceChildren();
    const edges = state.valve ? state.valve.segment_edges_mm : [0, 0.3 * L(), 0.7 * L(), L()];
    m.appendChild(svg("path", { d: `M${X0},${YC} Q200,10 ${X1},${YC}`, fill: "#eef3f9", stroke: "#9bb", "aria-hidden": "true" }));
    m.appendChild(svg("path", { d: `M${X0},${YC} Q200,200 ${X1},${YC}`, fill: "#f6f1ea", stroke: "#bb9", "aria-hidden": "true" }));
    for (let i = 0; i < 3; i++) {
      const xm = xOf((edges[i] + edges[i + 1]) / 2);
      m.appendChild(svg("text", { x: xm - 8, y: 52, "aria-hidden": "true" }, `A${i + 1}`));
      m.appendChild(svg("text", { x: xm - 8, y: 178, "aria-hidden": "true" }, `P${i + 1}`));
      if (i > 0) m.appendChild(svg("line", { x1: xOf(edges[i]), x2: xOf(edges[i]), y1: 40, y2: 185, class: "seg", "aria-hidden": "true" }));
    }
    m.appendChild(svg("text", { x: 2, y: YC + 25, "aria-hidden": "true" }, "AL"));
    m.appendChild(svg("text", { x: X1 + 6, y: YC + 25, "aria-hidden": "true" }, "PM"));
    if (state.valve) m.appendChild(gapPolygon(state.valve.s_mm, state.valve.gap_mm, "gap"));
    if (state.result && state.result.after && state.result.after.gap_mm && state.valve) m.appendChild(gapPolygon(state.valve.s_mm, state.result.after.gap_mm, "gap-after"));
    m.appendChild(svg("line", { x1: X0, x2: X1, y1: YC, y2: YC, class: "line", "aria-hidden": "true" }));
    const hit = svg("line", { x1: X0, x2: X1, y1: YC, y2: YC, class: "hit", "data-testid": "coaptation-line" });
    hit.addEventListener("click", (ev) => { const p = toSvg(ev); addClip(mmOf(p.x)); });
    m.appendChild(hit);
    state.clips.forEach((c, i) => {
      const d = state.meta.devices.find((x) => x.name === c.device);
      const w = Math.max(6, (d ? d.width_mm : 4) / L() * (X1 - X0));
      const r = svg("rect", {
        x: (xOf(c.position_mm) - w / 2).toFixed(1), y: YC - 34, width: w.toFixed(1), height: 68, rx: 3, class: "clip",
        tabindex: "0", role: "slider", "aria-label": `Clip ${i + 1}, ${c.device}`, "aria-valuemin": "0", "aria-valuemax": String(L()),
        "aria-valuenow": String(c.position_mm), "aria-valuetext": `${c.position_mm} mm, ${segmentName(c.position_mm)}`, "data-index": String(i),
      });
      r.appendChild(svg("title", {}, `Clip ${i + 1}: ${c.device} at ${c.position_mm} mm (${segmentName(c.position_mm)})`));
      r.addEventListener("keydown", (ev) => onClipKey(ev, i));
      r.addEventListener("pointerdown", (ev) => startDrag(ev, i));
      r.addEventListener("focus", () => { state.selected = i; });
      m.appendChild(r);
    });
  }
  function toSvg(ev) {
    const m = $("valve-map"); const pt = m.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
    return pt.matrixTransform(m.getScreenCTM().inverse());
  }
  function addClip(mm) {
    if (state.clips.length >= 6) { status("At most 6 clips."); return; }
    const device = $("device").value;
    state.clips.push({ device, position_mm: clampPos(mm, device) });
    state.selected = state.clips.length - 1;
    clipsChanged(true);
  }
  function onClipKey(ev, i) {
    const step = ev.shiftKey ? 2 : 0.5; const c = state.clips[i];
    if (ev.key === "ArrowLeft" || ev.key === "ArrowDown") c.position_mm = clampPos(c.position_mm - step, c.device);
    else if (ev.key === "ArrowRight" || ev.key === "ArrowUp") c.position_mm = clampPos(c.position_mm + step, c.device);
    else if (ev.key === "Delete" || ev.key === "Backspace") { state.clips.splice(i, 1); state.selected = -1; clipsChanged(false); return; }
    else return;
    ev.preventDefault(); state.selected = i; clipsChanged(true);
  }
  function startDrag(ev, i) {
    ev.preventDefault(); const r = ev.currentTarget; r.setPointerCapture(ev.pointerId); state.selected = i;
    const move = (e) => { state.clips[i].position_mm = clampPos(mmOf(toSvg(e).x), state.clips[i].device); const d = r.getAttribute("width"); r.setAttribute("x", (xOf(state.clips[i].position_mm) - d / 2).toFixed(1)); };
    const up = () => { r.removeEventListener("pointermove", move); r.removeEventListener("pointerup", up); clipsChanged(true); };
    r.addEventListener("pointermove", move); r.addEventListener("pointerup", up);
  }
  function drawClipList() {
    const ol = $("clip-list"); ol.replaceChildren();
    state.clips.forEach((c, i) => {
      const li = el("li"); const row = el("div", { class: "row" });
      const id = `clip-dev-${i}`;
      row.appendChild(el("label", { for: id }, `Clip ${i + 1} at ${c.position_mm} mm (${segmentName(c.position_mm)}), size`));
      const sel = el("select", { id });
      state.meta.devices.forEach((d) => { const o = el("option", { value: d.name }, `${d.name} (${d.width_mm} mm wide, ${d.arm_length_mm} mm arms)`); if (d.name === c.device) o.selected = true; sel.appendChild(o); });
      sel.addEventListener("change", () => { c.device = sel.value; c.position_mm = clampPos(c.position_mm, c.device); clipsChanged(false); });
      const rm = el("button", { type: "button", class: "secondary" }, "Remove"); rm.setAttribute("aria-label", `Remove clip ${i + 1}`);
      rm.addEventListener("click", () => { state.clips.splice(i, 1); clipsChanged(false); });
      row.append(sel, rm); li.appendChild(row); ol.appendChild(li);
    });
  }
  function clipsChanged(keepFocus) {
    drawMap(); drawClipList();
    if (keepFocus && state.selected >= 0) { const r = document.querySelector(`#valve-map .clip[data-index="${state.selected}"]`); if (r) r.focus(); }
    scheduleAssess();
  }

  // ---------- live results ----------
  function scheduleAssess() { clearTimeout(state.timer); state.timer = setTimeout(assess, 200); }
  async function assess() {
    if (!state.caseData) return;
    if (state.controller) state.controller.abort();
    state.controller = new AbortController(); const seq = ++state.seq;
    status("Simulating…");
    try {
      const r = await api("/api/valve/assess", { method: "POST", body: { case: state.caseData, clips: state.clips }, signal: state.controller.signal });
      if (seq !== state.seq) return;
      state.result = r; state.valve = r.valve; clearErrors();
      showResults(); drawMap(); status(state.clips.length ? "Results updated." : "Baseline shown; place a clip on the line.");
    } catch (e) {
      if (e.name === "AbortError") return;
      showError(e); status("Could not simulate: " + e.message);
    }
  }
  function gradeClass(g) { return ["0", "1+"].includes(g) ? "grade-good" : (["3+", "4+"].includes(g) ? "grade-bad" : ""); }
  function setCell(id, text, cls) { const c = $(id); c.textContent = text; c.className = cls || ""; }
  function showResults() {
    const b = state.result.before, a = state.result.after;
    setCell("r-eroa-b", fmt(b.eroa_cm2, 2)); setCell("r-eroa-a", a ? fmt(a.eroa_cm2, 2) : "–");
    setCell("r-mva-b", fmt(b.mva_cm2, 2)); setCell("r-mva-a", a ? fmt(a.mva_cm2, 2) : "–");
    setCell("r-mr-b", `${b.mr_grade} (${b.mr_severity})`, gradeClass(b.mr_grade)); setCell("r-mr-a", a ? `${a.mr_grade} (${a.mr_severity})` : "–", a ? gradeClass(a.mr_grade) : "");
    setCell("r-grad-b", fmt(b.mean_gradient_mmhg, 1)); setCell("r-grad-a", a ? fmt(a.mean_gradient_mmhg, 1) : "–", a && a.mean_gradient_mmhg >= 5 ? "grade-bad" : "");
    setCell("r-la-b", fmt(b.metrics.la_mean_mmhg, 1)); setCell("r-la-a", a ? fmt(a.metrics.la_mean_mmhg, 1) : "–");
    setCell("r-fsv-b", fmt(b.metrics.forward_sv_ml, 0)); setCell("r-fsv-a", a ? fmt(a.metrics.forward_sv_ml, 0) : "–");
    const notes = (state.result.notes || []).concat(state.result.clips.filter((c) => c.grasp !== "good").map((c) => `${c.device} at ${c.position_mm} mm: grasp ${c.grasp}${c.grasp_reasons.length ? " — " + c.grasp_reasons.join("; ") : ""}`));
    $("res-note").textContent = notes.join(" · ");
    plot();
  }
  function plot() {
    if (!window.Plotly) return;
    const b = state.result.before.waveforms, a = state.result.after && state.result.after.waveforms;
    const cfg = { displaylogo: false, responsive: true, displayModeBar: false };
    const lay = (t, x, y) => ({ title: { text: t, font: { size: 14 }, x: 0, xanchor: "left" }, margin: { l: 50, r: 10, t: 50, b: 45 }, xaxis: { title: { text: x } }, yaxis: { title: { text: y } }, legend: { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom" } });
    const pv = [{ x: b.v_lv_ml, y: b.p_lv_mmhg, name: "before", line: { color: "#b3261e" } }];
    const la = [{ x: b.t_s, y: b.p_la_mmhg, name: "before", line: { color: "#b3261e" } }];
    if (a) { pv.push({ x: a.v_lv_ml, y: a.p_lv_mmhg, name: "after", line: { color: "#0a4a8a" } }); la.push({ x: a.t_s, y: a.p_la_mmhg, name: "after", line: { color: "#0a4a8a" } }); }
    Plotly.react("plot-pv", pv, lay("LV pressure–volume loop", "LV volume (mL)", "LV pressure (mmHg)"), cfg);
    Plotly.react("plot-la", la, lay("Left atrial pressure", "time (s)", "LA pressure (mmHg)"), cfg);
  }

  // ---------- cases ----------
  async function loadExample() {
    const name = $("example").value;
    try {
      const r = await api(`/api/examples/${encodeURIComponent(name)}`);
      state.caseData = r.case; state.clips = []; state.savedId = null; state.valve = null; state.result = null;
      updateSaveButtons(); fillForm(r.case.name || name, r.case); drawMap(); drawClipList(); status(`Loaded example ${name}.`); await assess();
    } catch (e) { showError(e); }
  }
  function applyForm() { state.caseData = readForm(); state.valve = null; scheduleAssess(); }
  // Save: update the open saved case (PUT) when it has an id; "Save as new" (or no id) creates one (POST).
  async function saveCase(asNew) {
    if (!state.caseData) { status("Load or write a case first."); return; }
    state.caseData = readForm();
    const body = { name: $("case-name").value.trim() || "untitled case", case: state.caseData, clips: state.clips };
    try {
      let r = null;
      if (state.savedId !== null && asNew !== true) {
        try {
          r = await api(`/api/cases/${encodeURIComponent(state.savedId)}`, { method: "PUT", body });
          state.savedId = r.id; status(`Updated case ${r.id}: ${r.name}.`);
        } catch (e) { if (e.status !== 404) throw e; r = null; }  // deleted meanwhile: save it anew
      }
      if (r === null) {
        r = await api("/api/cases", { method: "POST", body });
        state.savedId = r.id; status(`Saved case ${r.id}: ${r.name}.`);
      }
      updateSaveButtons(); await listCases();
    } catch (e) { showError(e); status("Not saved: " + e.message); }
  }
  function updateSaveButtons() {
    const open = state.savedId !== null;
    $("save-case").textContent = open ? "Save changes" : "Save case";
    $("save-case").setAttribute("aria-label", open ? `Save changes to saved case ${state.savedId}` : "Save case");
    $("save-case-new").hidden = !open;
  }
  async function listCases() {
    const ul = $("saved-cases");
    try {
      const rows = await api("/api/cases"); ul.replaceChildren();
      if (!rows.length) ul.appendChild(el("li", {}, "No saved cases yet."));
      rows.forEach((r) => {
        const li = el("li"); li.appendChild(el("span", {}, `${r.name} (${r.clips} clip${r.clips === 1 ? "" : "s"})`));
        const b = el("button", { type: "button", class: "secondary" }, "Open"); b.setAttribute("aria-label", `Open saved case ${r.name}`);
        b.addEventListener("click", () => openCase(r.id)); li.appendChild(b); ul.appendChild(li);
      });
    } catch (e) { ul.replaceChildren(el("li", {}, "Saved cases unavailable: " + e.message)); }
  }
  async function openCase(id) {
    const r = await api(`/api/cases/${id}`);
    state.caseData = r.case; state.clips = r.clips || []; state.savedId = r.id; state.valve = null; state.result = null;
    updateSaveButtons(); fillForm(r.name, r.case); drawMap(); drawClipList(); status(`Opened saved case ${r.name}.`); await assess();
  }

  // ---------- planner and guide ----------
  function planClips(item) {
    if (Array.isArray(item.clips)) return item.clips.map((c) => ({ device: c.device || c.device_name, position_mm: c.position_mm }));
    if (Array.isArray(item.positions_mm) && Array.isArray(item.devices)) return item.positions_mm.map((p, i) => ({ device: item.devices[i], position_mm: p }));
    return null;
  }
  async function runPlan() {
    const out = $("plan-out"); out.replaceChildren(el("p", {}, "Ranking plans…"));
    try {
      const r = await api("/api/plan", { method: "POST", body: { case: state.caseData } });
      const rk = r.ranking; const items = Array.isArray(rk) ? rk : (rk.plans || rk.ranking || rk.best || []);
      const t = el("table"); const head = el("tr");
      ["#", "clips", "EROA after (cm²)", "MR after", "gradient (mmHg)", ""].forEach((h) => head.appendChild(el("th", { scope: "col" }, h)));
      t.appendChild(el("thead")).appendChild(head); const tb = el("tbody"); t.appendChild(tb);
      items.slice(0, 8).forEach((it, i) => {
        const clips = planClips(it) || []; const tr = el("tr");
        tr.appendChild(el("td", {}, String(i + 1)));
        tr.appendChild(el("td", {}, clips.map((c) => `${c.device} @ ${fmt(c.position_mm, 1)} mm`).join(", ")));
        tr.appendChild(el("td", {}, fmt(it.eroa_cm2 ?? it.eroa_after_cm2, 2)));
        tr.appendChild(el("td", {}, String(it.mr_grade ?? it.residual_mr_grade ?? "–")));
        tr.appendChild(el("td", {}, fmt(it.mean_gradient_mmhg, 1)));
        const td = el("td"); const b = el("button", { type: "button" }, "Apply this plan"); b.setAttribute("aria-label", `Apply plan ${i + 1}`);
        b.disabled = !clips.length; b.addEventListener("click", () => { state.clips = clips.map((c) => ({ device: c.device, position_mm: clampPos(c.position_mm, c.device) })); clipsChanged(false); });
        td.appendChild(b); tr.appendChild(td); tb.appendChild(tr);
      });
      out.replaceChildren(t);
    } catch (e) { out.replaceChildren(el("p", {}, e.status === 503 ? "The planner is not in this build yet: " + e.message : "Planner: " + e.message)); }
  }
  async function runGuide() {
    const date = $("proc-date").value;
    if (!date) { status("Choose a procedure date for the guide."); $("proc-date").focus(); return; }
    status("Writing the guide…");
    try {
      const body = { procedure_date: date, lang: $("guide-lang").value };
      if (state.caseData && state.clips.length) { body.case = state.caseData; body.clips = state.clips; }
      const r = await api("/api/careplan", { method: "POST", body });
      $("guide-frame").srcdoc = r.guide_html; $("guide-frame").hidden = false; status("Guide preview ready.");
    } catch (e) { status("Guide: " + e.message); }
  }

  // ---------- start ----------
  async function init() {
    $("token-save").addEventListener("click", () => { state.token = $("token").value; sessionStorage.setItem("mitrasim-token", state.token); $("token-box").hidden = true; init(); });
    try { state.meta = await api("/api/meta"); } catch (e) { status(e.status === 401 ? "Enter the API token." : "API unavailable: " + e.message); return; }
    $("disclaimer").textContent = state.meta.disclaimer;
    const ex = $("example"); ex.replaceChildren(); state.meta.examples.forEach((n) => ex.appendChild(el("option", { value: n }, n.replace(/_/g, " "))));
    const pr = $("f-preset"); pr.replaceChildren(); state.meta.presets.forEach((n) => pr.appendChild(el("option", { value: n }, n)));
    const dv = $("device"); dv.replaceChildren(); state.meta.devices.forEach((d) => dv.appendChild(el("option", { value: d.name }, `${d.name} — ${d.family}, ${d.width_mm} mm wide, ${d.arm_length_mm} mm arms`)));
    dv.value = "XTW";
    dv.addEventListener("change", () => { if (state.selected >= 0 && state.clips[state.selected]) { state.clips[state.selected].device = dv.value; clipsChanged(false); } });
    if (!state.meta.features.plan) { $("run-plan").disabled = true; $("plan-out").textContent = "The planner (mitrasim.procedure) is not in this build yet."; }
    drawMap(); listCases();
  }
  document.addEventListener("DOMContentLoaded", () => {
    $("load-example").addEventListener("click", loadExample);
    $("apply-case").addEventListener("click", applyForm);
    $("save-case").addEventListener("click", () => saveCase(false));
    $("save-case-new").addEventListener("click", () => saveCase(true));
    $("clear-clips").addEventListener("click", () => { state.clips = []; clipsChanged(false); });
    $("run-plan").addEventListener("click", runPlan);
    $("run-guide").addEventListener("click", runGuide);
    $("case-form").addEventListener("submit", (e) => { e.preventDefault(); applyForm(); });
    init();
  });
})();
