/* mitrasim page: plain JS, no build step, no inline script (CSP script-src 'self'). */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const X0 = 30, X1 = 370, YC = 110, GAP_PX_PER_MM = 3, CASES_PAGE = 20;
  const state = {
    token: sessionStorage.getItem("mitrasim-token") || "",
    meta: null, caseData: null, clips: [], valve: null, result: null,
    selected: -1, savedId: null, etag: null, seq: 0, controller: null, timer: null, casesOffset: 0,
  };

  // ---------- API ----------
  async function api(path, opts = {}) {
    const headers = Object.assign({ "Content-Type": "application/json" }, opts.headers || {});
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const res = await fetch(path, { method: opts.method || "GET", headers, body: opts.body ? JSON.stringify(opts.body) : undefined, signal: opts.signal });
    const etag = res.headers.get("ETag"); if (etag && opts.onEtag) opts.onEtag(etag);
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
  // The save's outcome stays next to the save buttons (the page status line is overwritten by live results).
  function saveStatus(msg) { status(msg); $("save-status").textContent = msg; }
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
    drawLegendAndScale(m);
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
  // Legend (top) and a mm scale along the coaptation line (bottom): the line is drawn to length,
  // the gap's height is the gap itself at GAP_PX_PER_MM.
  function drawLegendAndScale(m) {
    const g = svg("g", { class: "legend", "data-testid": "map-legend" });
    // swatches take the map's colours (app.css: .gap, .gap-after, .clip) but not those classes, which name map items
    [["#d9534f", 0.55, "gap before"], ["#b3261e", 0.9, "gap after clips"], ["#0a4a8a", 1, "clip"]].forEach(([fill, op, label], i) => {
      const x = X0 + i * 118;
      g.appendChild(svg("rect", { x, y: 4, width: 14, height: 10, class: "swatch", fill, "fill-opacity": op }));
      g.appendChild(svg("text", { x: x + 18, y: 13 }, label));
    });
    g.appendChild(svg("title", {}, `Gap height drawn at ${GAP_PX_PER_MM} px per mm, both sides of the line`));
    m.appendChild(g);
    const sc = svg("g", { class: "scale", "data-testid": "map-scale" });
    const y = 200, len = L(), step = len > 40 ? 10 : 5;
    sc.appendChild(svg("line", { x1: X0, x2: X1, y1: y, y2: y }));
    for (let mm = 0; mm <= len + 1e-9; mm += step) {
      const x = xOf(mm); const major = mm % 10 === 0;
      sc.appendChild(svg("line", { x1: x, x2: x, y1: y, y2: y + (major ? 6 : 4) }));
      if (major) sc.appendChild(svg("text", { x: x - 6, y: y + 17 }, String(mm)));
    }
    sc.appendChild(svg("text", { x: X1 + 4, y: y + 4 }, "mm"));
    sc.appendChild(svg("title", {}, `Coaptation line, ${len.toFixed(1)} mm from the anterolateral (AL) to the posteromedial (PM) commissure`));
    m.appendChild(sc);
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
      state.result = r; state.valve = r.valve; clearErrors(); setStale(false);
      showResults(); drawMap(); status(state.clips.length ? "Results updated." : "Baseline shown; place a clip on the line.");
    } catch (e) {
      if (e.name === "AbortError") return;
      showError(e); status("Could not simulate: " + e.message); setStale(true, e.message);
    }
  }
  // After invalid input the shown numbers belong to the last valid case: say so, on the table and the summary.
  function setStale(stale, why) {
    $("results-section").classList.toggle("stale", stale);
    $("stale-note").hidden = !stale;
    $("stale-note").textContent = stale ? `Out of date: these results are for the last valid input, not for the current one (${why}).` : "";
    $("results").setAttribute("aria-describedby", stale ? "stale-note res-note" : "res-note");
    $("map-summary").classList.toggle("stale", stale);
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
    setCell("r-cw-b", cwText(b.echo)); setCell("r-cw-a", a ? cwText(a.echo) : "–");
    setCell("r-pv-b", pvText(b.echo)); setCell("r-pv-a", a ? pvText(a.echo) : "–");
    const notes = (state.result.notes || []).concat(state.result.clips.filter((c) => c.grasp !== "good").map((c) => `${c.device} at ${c.position_mm} mm: grasp ${c.grasp}${c.grasp_reasons.length ? " — " + c.grasp_reasons.join("; ") : ""}`));
    const flags = [b].concat(a ? [a] : []).flatMap((x) => x.flags || []);
    $("res-note").textContent = notes.concat(flags.map((f) => "not a result: " + f)).join(" · ");
    $("map-summary").textContent = a
      ? `MR ${b.mr_grade} → ${a.mr_grade} · EROA ${fmt(b.eroa_cm2, 2)} → ${fmt(a.eroa_cm2, 2)} cm² · mean gradient ${fmt(b.mean_gradient_mmhg, 1)} → ${fmt(a.mean_gradient_mmhg, 1)} mmHg`
      : `MR ${b.mr_grade} · EROA ${fmt(b.eroa_cm2, 2)} cm² · mean gradient ${fmt(b.mean_gradient_mmhg, 1)} mmHg (no clip yet)`;
    plot();
  }
  // the simulated beat's signs (mitrasim.echo.signs), in the words of the grade form
  function echoWord(name, v) {
    const served = ((state.meta && state.meta.echo_labels) || {})[name];
    return (served && served[v]) || ECHO_WORDS[`${name}:${v}`] || ECHO_WORDS[v] || String(v).replace(/_/g, " ");
  }
  function cwText(e) { return !e ? "–" : (e.cw_density ? echoWord("cw_density", e.cw_density) : "no jet"); }
  function pvText(e) {
    if (!e || !e.pv_flow) return "–";
    return echoWord("pv_flow", e.pv_flow) + (e.pv_s_d_ratio != null ? `, S/D ${fmt(e.pv_s_d_ratio, 2)}` : "");
  }
  function plot() {
    if (!window.Plotly) return;
    const b = state.result.before.waveforms, a = state.result.after && state.result.after.waveforms;
    const cfg = { displaylogo: false, responsive: true, displayModeBar: false };
    // Axis ranges padded by 8 % of the data's span, so no curve touches the plot's edges.
    const padded = (arrs) => { const v = arrs.flat().filter((z) => Number.isFinite(z)); if (!v.length) return undefined; const lo = Math.min(...v), hi = Math.max(...v), p = 0.08 * ((hi - lo) || 1); return [lo - p, hi + p]; };
    const lay = (t, x, y, xs, ys) => ({ title: { text: t, font: { size: 14 }, x: 0, xanchor: "left" }, margin: { l: 60, r: 20, t: 50, b: 50 }, xaxis: { title: { text: x }, range: padded(xs), zeroline: false }, yaxis: { title: { text: y }, range: padded(ys), zeroline: false }, legend: { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom" } });
    const pv = [{ x: b.v_lv_ml, y: b.p_lv_mmhg, name: "before", line: { color: "#b3261e" } }];
    const la = [{ x: b.t_s, y: b.p_la_mmhg, name: "before", line: { color: "#b3261e" } }];
    if (a) { pv.push({ x: a.v_lv_ml, y: a.p_lv_mmhg, name: "after", line: { color: "#0a4a8a" } }); la.push({ x: a.t_s, y: a.p_la_mmhg, name: "after", line: { color: "#0a4a8a" } }); }
    Plotly.react("plot-pv", pv, lay("LV pressure–volume loop", "LV volume (mL)", "LV pressure (mmHg)", pv.map((t) => t.x), pv.map((t) => t.y)), cfg);
    Plotly.react("plot-la", la, lay("Left atrial pressure", "time (s)", "LA pressure (mmHg)", la.map((t) => t.x), la.map((t) => t.y)), cfg);
  }

  // ---------- cases ----------
  async function loadExample() {
    const name = $("example").value;
    try {
      const r = await api(`/api/examples/${encodeURIComponent(name)}`);
      state.caseData = r.case; state.clips = []; state.savedId = null; state.etag = null; state.valve = null; state.result = null;
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
          r = await api(`/api/cases/${encodeURIComponent(state.savedId)}`, { method: "PUT", body, headers: { "If-Match": state.etag || "" }, onEtag: (t) => { state.etag = t; } });
          state.savedId = r.id; saveStatus(`Updated case ${r.id}: ${r.name}.`);
        } catch (e) {
          if (e.status === 412) { saveStatus("Not saved: someone else changed this case since you opened it. Open it again (Saved cases) and redo your change, or use “Save as new”."); return; }
          if (e.status !== 404) throw e; r = null;  // deleted meanwhile: save it anew
        }
      }
      if (r === null) {
        r = await api("/api/cases", { method: "POST", body, onEtag: (t) => { state.etag = t; } });
        state.savedId = r.id; saveStatus(`Saved case ${r.id}: ${r.name}.`);
      }
      updateSaveButtons(); await listCases();
    } catch (e) { showError(e); saveStatus("Not saved: " + e.message); }
  }
  function updateSaveButtons() {
    const open = state.savedId !== null;
    $("save-case").textContent = open ? "Save changes" : "Save case";
    $("save-case").setAttribute("aria-label", open ? `Save changes to saved case ${state.savedId}` : "Save case");
    $("save-case-new").hidden = !open;
  }
  async function listCases(offset) {
    const ul = $("saved-cases"); state.casesOffset = offset || 0;
    try {
      const page = await api(`/api/cases?limit=${CASES_PAGE}&offset=${state.casesOffset}`); ul.replaceChildren();
      const rows = page.items;
      if (!rows.length) ul.appendChild(el("li", {}, "No saved cases yet."));
      $("cases-prev").hidden = state.casesOffset === 0; $("cases-next").hidden = page.next_offset === null;
      $("cases-page").textContent = page.total > CASES_PAGE ? `${state.casesOffset + 1}–${state.casesOffset + rows.length} of ${page.total}` : "";
      rows.forEach((r) => {
        const li = el("li"); li.appendChild(el("span", {}, `${r.name} (${r.clips} clip${r.clips === 1 ? "" : "s"})`));
        const b = el("button", { type: "button", class: "secondary" }, "Open"); b.setAttribute("aria-label", `Open saved case ${r.name}`);
        b.addEventListener("click", () => openCase(r.id)); li.appendChild(b); ul.appendChild(li);
      });
    } catch (e) { ul.replaceChildren(el("li", {}, "Saved cases unavailable: " + e.message)); }
  }
  async function openCase(id) {
    const r = await api(`/api/cases/${id}`, { onEtag: (t) => { state.etag = t; } });
    state.caseData = r.case; state.clips = r.clips || []; state.savedId = r.id; state.valve = null; state.result = null;
    updateSaveButtons(); fillForm(r.name, r.case); drawMap(); drawClipList(); status(`Opened saved case ${r.name}.`); await assess();
  }

  // ---------- planner and guide ----------
  function planClips(item) {
    if (Array.isArray(item.clips)) return item.clips.map((c) => ({ device: c.device || c.device_name, position_mm: c.position_mm }));
    if (Array.isArray(item.positions_mm) && Array.isArray(item.devices)) return item.positions_mm.map((p, i) => ({ device: item.devices[i], position_mm: p }));
    return null;
  }
  // A plan's or the procedure's clips, put on the map (positions kept inside the line).
  function showClips(clips) { state.clips = clips.map((c) => ({ device: c.device, position_mm: clampPos(c.position_mm, c.device) })); clipsChanged(false); }
  // 90 % intervals of the calibrated patient (a case with measurements), "value [p05–p95]"; "–" without them.
  // `cols`: the response's interval_columns (quantity, label, decimals), as the command line shows them.
  function intervalsText(iv, cols) {
    if (!iv) return "–";
    return cols.map((c) => iv[c.quantity] ? `${fmt(iv[c.quantity].value, c.decimals)} [${fmt(iv[c.quantity].p05, c.decimals)}–${fmt(iv[c.quantity].p95, c.decimals)}]` : "–").join(" · ");
  }
  function intervalsHead(cols) { return `calibrated patient: ${cols.map((c) => c.label).join(" · ")}, 90 % interval`; }
  async function runPlan() {
    const out = $("plan-out"); out.replaceChildren(el("p", {}, "Ranking plans…"));
    try {
      const r = await api("/api/plan", { method: "POST", body: { case: state.caseData } });
      // The planner returns {best, top: [...], verdicts}; an older shape was a plain list.
      const rk = r.ranking || {};
      const items = Array.isArray(rk) ? rk : (Array.isArray(rk.top) ? rk.top : (rk.best ? [rk.best] : []));
      const t = el("table"); const head = el("tr");
      const cols = r.interval_columns;
      ["#", "clips", "EROA after (cm²)", "MR after", "mean gradient (mmHg)", intervalsHead(cols), ""].forEach((h) => head.appendChild(el("th", { scope: "col" }, h)));
      t.appendChild(el("thead")).appendChild(head); const tb = el("tbody"); t.appendChild(tb);
      items.slice(0, 8).forEach((it, i) => {
        const clips = planClips(it) || []; const tr = el("tr");
        tr.appendChild(el("td", {}, String(i + 1)));
        tr.appendChild(el("td", {}, clips.map((c) => `${c.device} @ ${fmt(c.position_mm, 1)} mm`).join(", ")));
        tr.appendChild(el("td", {}, fmt(it.eroa_cm2 ?? it.eroa_after_cm2, 2)));
        tr.appendChild(el("td", {}, String(it.mr_grade ?? it.residual_mr_grade ?? "–")));
        tr.appendChild(el("td", {}, fmt(it.mean_gradient_mmhg, 1)));
        tr.appendChild(el("td", {}, intervalsText(it.intervals, cols)));
        const td = el("td"); const b = el("button", { type: "button" }, "Apply this plan"); b.setAttribute("aria-label", `Apply plan ${i + 1}`);
        b.disabled = !clips.length; b.addEventListener("click", () => showClips(clips));
        td.appendChild(b); tr.appendChild(td); tb.appendChild(tr);
      });
      const verdicts = el("ul", { class: "verdicts" });
      Object.values(rk.verdicts || {}).forEach((v) => verdicts.appendChild(el("li", {}, v)));
      out.replaceChildren(t, verdicts);
      if (!items.length) out.replaceChildren(el("p", {}, "The planner found no plan that keeps to the rules."), verdicts);
    } catch (e) { out.replaceChildren(el("p", {}, "Planner: " + e.message)); }
  }

  // ---------- procedure: clip by clip, as the operator sees it ----------
  async function runProcedure() {
    const out = $("proc-out"); out.replaceChildren(el("p", {}, "Running the procedure…"));
    const seed = Number($("proc-seed").value || 0);
    try {
      const r = await api("/api/procedure", { method: "POST", body: { case: state.caseData, seed } });
      const p = r.procedure; const steps = p.steps || [];
      const t = el("table", { "data-testid": "procedure-steps" }); const head = el("tr");
      ["step", "what the operator does and sees", "EROA (cm²)", "MR", "mean gradient (mmHg)", "MVA (cm²)"].forEach((h) => head.appendChild(el("th", { scope: "col" }, h)));
      t.appendChild(el("thead")).appendChild(head); const tb = el("tbody"); t.appendChild(tb);
      steps.forEach((s, i) => {
        const tr = el("tr");
        tr.appendChild(el("td", {}, String(i)));
        tr.appendChild(el("td", {}, s.text || s.action));
        tr.appendChild(el("td", {}, fmt(s.eroa_cm2, 2)));
        tr.appendChild(el("td", { class: gradeClass(s.mr_grade) }, String(s.mr_grade ?? "–")));
        tr.appendChild(el("td", {}, fmt(s.mean_gradient_mmhg, 1)));
        tr.appendChild(el("td", {}, fmt(s.mva_cm2, 2)));
        tb.appendChild(tr);
      });
      const comp = Object.entries(p.complications || {}).filter(([, v]) => v).map(([k]) => k.replace(/_/g, " "));
      const sum = el("p", { class: "proc-summary" },
        `${p.aborted ? "Aborted" : "Stopped"}: ${p.stop_reason}. ${p.n_clips} clip${p.n_clips === 1 ? "" : "s"}; ` +
        `MR ${p.baseline.mr_grade} → ${p.final.mr_grade}; complications (seed ${p.seed}): ${comp.length ? comp.join(", ") : "none"}` +
        (p.mvarc ? `; MVARC technical success: ${p.mvarc.success ? "yes" : "no"}` : "") + ".");
      const apply = el("button", { type: "button", class: "secondary" }, "Show these clips on the map");
      apply.disabled = !(p.clips || []).length;
      apply.addEventListener("click", () => showClips(p.clips || []));
      const cols = r.interval_columns;
      const iv = r.intervals ? el("p", { class: "proc-intervals", "data-testid": "procedure-intervals" },
        `${intervalsHead(cols)}: before ${intervalsText(r.intervals.before, cols)}; after ${intervalsText(r.intervals.after, cols)}.`) : null;
      out.replaceChildren(...[sum, iv, t, apply].filter(Boolean));
    } catch (e) { out.replaceChildren(el("p", {}, "Procedure: " + e.message)); }
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

  // ---------- grade an echo study (POST /api/grade, as `mitrasim grade`) ----------
  // Words for the allowed values; the values themselves come from /api/meta (echo_choices), and the
  // guideline sets' names too (echo_labels: one name each, as the command line writes it).
  const ECHO_WORDS = {
    normal_or_mild: "normal or mildly abnormal", moderate: "moderately abnormal",
    flail_or_large_defect: "flail leaflet, ruptured papillary muscle or large coaptation defect",
    central: "central", eccentric: "eccentric", eccentric_wall_hugging: "eccentric, wall-hugging",
    faint: "faint / partial / parabolic", dense_parabolic: "dense, parabolic", dense_triangular: "dense, triangular (early peaking)",
    "pv_flow:normal": "systolic dominance (normal)", blunted: "blunted", reversal: "systolic flow reversal",
    a_dominant: "A-wave dominant", variable: "neither A- nor E-dominant", e_dominant: "E-wave dominant",
    "lv_size:normal": "normal", enlarged: "enlarged (normal function)",
    primary: "primary", secondary: "secondary",
  };
  function fillEchoChoices() {
    const ch = (state.meta && state.meta.echo_choices) || {};
    document.querySelectorAll("#grade-form select[data-choices]").forEach((sel) => {
      const name = sel.dataset.choices; const keep = sel.value; sel.replaceChildren();
      if (!sel.dataset.required) sel.appendChild(el("option", { value: "" }, "not recorded"));
      (ch[name] || []).forEach((v) => sel.appendChild(el("option", { value: v }, echoWord(name, v))));
      if (keep) sel.value = keep;
    });
  }
  function readEcho() {
    const echo = {};
    document.querySelectorAll("#grade-form [data-echo]").forEach((inp) => {
      const k = inp.dataset.echo;
      if (inp.type === "checkbox") { if (inp.checked) echo[k] = true; return; }
      const v = inp.value.trim(); if (v === "") return;
      echo[k] = inp.type === "number" ? Number(v) : v;
    });
    return echo;
  }
  function clearGradeErrors() {
    $("grade-errors").textContent = "";
    document.querySelectorAll("#grade-form [aria-invalid]").forEach((e) => { e.removeAttribute("aria-invalid"); e.removeAttribute("aria-errormessage"); });
  }
  function gradeList(title, items, cls) {
    const box = el("div", { class: cls || "" }); if (!items || !items.length) return box;
    box.appendChild(el("h3", {}, title)); const ul = el("ul"); items.forEach((x) => ul.appendChild(el("li", {}, x))); box.appendChild(ul);
    return box;
  }
  function showGrade(r) {
    const out = $("grade-out"); const parts = [];
    const head = el("p", { class: "grade-head", "data-testid": "grade-result" });
    head.appendChild(el("span", { class: gradeClass(r.grade) }, `MR ${r.grade}`));
    head.appendChild(document.createTextNode(` (${r.severity}) — ${echoWord("guideline", r.guideline)}, ${r.etiology} MR`));
    parts.push(head);
    const dl = el("dl", { class: "grade-facts" });
    const fact = (k, v, id) => { dl.appendChild(el("dt", {}, k)); dl.appendChild(el("dd", id ? { "data-testid": id } : {}, v)); };
    fact("Rule that decided", (r.rule || "").replace(/_/g, " "), "grade-rule");
    if (r.grade === "indeterminate") fact("Most likely grade", r.most_likely_grade ? `${r.most_likely_grade} — ${r.most_likely_rule}` : (r.most_likely_rule || "none"), "grade-most-likely");
    fact("Criteria of mild MR met", (r.criteria_mild || []).map((c) => c.replace(/_/g, " ")).join(", ") || "none", "grade-criteria-mild");
    fact("Criteria of severe MR met", (r.criteria_severe || []).map((c) => c.replace(/_/g, " ")).join(", ") || "none", "grade-criteria-severe");
    const st = r.stenosis;
    fact("Mitral stenosis", st ? `${st.severity}${st.acc_aha_stage ? " (ACC/AHA " + st.acc_aha_stage + ")" : ""}` : "not assessed (no valve area or gradient)", "grade-stenosis");
    parts.push(dl);
    parts.push(gradeList("Warnings", r.warnings, "grade-warnings"));
    parts.push(gradeList("Reasons", r.reasons));
    parts.push(gradeList("Notes", (r.notes || []).concat(st ? (st.caveats || []) : [])));
    out.replaceChildren(...parts);
  }
  async function runGrade() {
    clearGradeErrors();
    const out = $("grade-out"); out.replaceChildren(el("p", {}, "Grading…"));
    try {
      const r = await api("/api/grade", { method: "POST", body: { echo: readEcho() } });
      showGrade(r); status(`Echo graded: MR ${r.grade}.`);
    } catch (e) {
      out.replaceChildren();
      $("grade-errors").textContent = e.message;
      const field = (e.field || "").replace(/^(body\.)?(echo\.)?/, "");
      const inp = document.querySelector(`#grade-form [data-echo="${CSS.escape(field)}"]`);
      if (inp) { inp.setAttribute("aria-invalid", "true"); inp.setAttribute("aria-errormessage", "grade-errors"); inp.focus(); }
    }
  }
  function clearGrade() {
    document.querySelectorAll("#grade-form [data-echo]").forEach((inp) => { if (inp.type === "checkbox") inp.checked = false; else if (!inp.dataset.required) inp.value = ""; });
    clearGradeErrors(); $("grade-out").replaceChildren();
  }

  // ---------- start ----------
  // Loads the reference data and opens the first example; safe to call again (after a token is entered):
  // every listener is attached once, in DOMContentLoaded.
  async function init() {
    try { state.meta = await api("/api/meta"); } catch (e) { status(e.status === 401 ? "Enter the API token." : "API unavailable: " + e.message); return; }
    $("disclaimer").textContent = state.meta.disclaimer;
    const ex = $("example"); ex.replaceChildren(); state.meta.examples.forEach((n) => ex.appendChild(el("option", { value: n }, n.replace(/_/g, " "))));
    const pr = $("f-preset"); pr.replaceChildren(); state.meta.presets.forEach((n) => pr.appendChild(el("option", { value: n }, (state.meta.preset_labels || {})[n] ? `${n}: ${state.meta.preset_labels[n]}` : n)));
    const dv = $("device"); dv.replaceChildren(); state.meta.devices.forEach((d) => dv.appendChild(el("option", { value: d.name }, `${d.name} — ${d.family}, ${d.width_mm} mm wide, ${d.arm_length_mm} mm arms`)));
    dv.value = "XTW";
    fillEchoChoices();
    drawMap(); listCases(0);
    if (!state.caseData && state.meta.examples.length) {  // open on an example: the map works at once
      ex.value = state.meta.examples.includes("p2_flail") ? "p2_flail" : state.meta.examples[0];
      await loadExample();
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    $("load-example").addEventListener("click", loadExample);
    $("apply-case").addEventListener("click", applyForm);
    $("save-case").addEventListener("click", () => saveCase(false));
    $("save-case-new").addEventListener("click", () => saveCase(true));
    $("clear-clips").addEventListener("click", () => { state.clips = []; clipsChanged(false); });
    $("run-plan").addEventListener("click", runPlan);
    $("run-proc").addEventListener("click", runProcedure);
    $("cases-prev").addEventListener("click", () => listCases(Math.max(0, state.casesOffset - CASES_PAGE)));
    $("cases-next").addEventListener("click", () => listCases(state.casesOffset + CASES_PAGE));
    $("token-save").addEventListener("click", () => { state.token = $("token").value.trim(); sessionStorage.setItem("mitrasim-token", state.token); $("token-box").hidden = true; init(); });
    $("device").addEventListener("change", () => { const dv = $("device"); if (state.selected >= 0 && state.clips[state.selected]) { state.clips[state.selected].device = dv.value; clipsChanged(false); } });
    $("run-guide").addEventListener("click", runGuide);
    $("case-form").addEventListener("submit", (e) => { e.preventDefault(); applyForm(); });
    $("grade-form").addEventListener("submit", (e) => { e.preventDefault(); runGrade(); });
    $("clear-grade").addEventListener("click", clearGrade);
    init();
  });
})();
