// trilink view: draws the picture served by /api/picture and kept live by /api/events (SSE).
// No network but this server: the map data and libraries are served from /assets.
//
// Shape: picture = { version, viewer, tracks: [TrackView], events: [], health }.
// `events` (the common picture's fused events) is drawn by the same drawItem() once it is fed.
"use strict";
(function () {
  const T = window.__trilink;
  const MODE = {
    real_world: { cls: "real", label: "REAL WORLD" },
    exercise: { cls: "exercise", label: "EXERCISE" },
    test: { cls: "test", label: "TEST" },
  };
  const modeOf = (m) => MODE[m] || MODE.real_world;
  const state = { viewer: null, tracks: new Map(), health: new Map(), dirty: new Set(), all: true };
  const svg = document.getElementById("map");
  const NS = "http://www.w3.org/2000/svg";
  let projection = null, path = null, layer = null;

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // ---- map ----
  function setupMap(world) {
    const w = svg.clientWidth || 900, h = svg.clientHeight || 700;
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    // Korean peninsula, Japan and the Sea of Japan.
    const region = { type: "MultiPoint", coordinates: [[123, 29], [146, 45.5]] };
    projection = d3.geoMercator().fitExtent([[12, 12], [w - 12, h - 12]], region).clipExtent([[0, 0], [w, h]]);
    path = d3.geoPath(projection);
    const base = el("g", { id: "base" }, svg);
    el("path", { class: "graticule", d: path(d3.geoGraticule10()) }, base);
    const countries = topojson.feature(world, world.objects.countries);
    el("path", { class: "land", d: path(countries) }, base);
    el("path", { class: "coast", d: path(topojson.mesh(world, world.objects.countries, (a, b) => a === b)) }, base);
    el("path", { class: "border", d: path(topojson.mesh(world, world.objects.countries, (a, b) => a !== b)) }, base);
    layer = el("g", { id: "tracks-layer" }, svg);
  }

  // The 1-sigma error ellipse as a closed ring of [lon, lat] (orientation: degrees from north).
  function ellipseRing(p, e) {
    const ring = [], o = (e.orientation_deg * Math.PI) / 180;
    const mPerDegLat = 111320, mPerDegLon = 111320 * Math.cos((p.lat_deg * Math.PI) / 180);
    for (let i = 0; i <= 36; i++) {
      const t = (i * Math.PI) / 18;
      const a = e.semi_major_m * Math.cos(t), b = e.semi_minor_m * Math.sin(t);
      const north = a * Math.cos(o) - b * Math.sin(o), east = a * Math.sin(o) + b * Math.cos(o);
      ring.push([p.lon_deg + east / mPerDegLon, p.lat_deg + north / mPerDegLat]);
    }
    return ring;
  }

  // One track (or, later, one common event): polyline, symbol with label, launch, impact.
  function drawItem(t) {
    const id = "trk-" + t.key.replace(/[^A-Za-z0-9_-]/g, "_");
    let g = document.getElementById(id);
    if (g) g.textContent = ""; else g = el("g", { id }, layer);
    const m = modeOf(t.mode);
    g.setAttribute("class", `trk ${m.cls}${t.ended ? " ended" : ""}${t.cancelled ? " cancelled" : ""}`);
    g.setAttribute("data-key", t.key);
    g.setAttribute("data-mode", t.mode);
    const label = `${m.label} ${t.origin.toUpperCase()} ${t.track_id}`;
    g.setAttribute("data-label", label);
    const title = el("title", {}, g);
    title.textContent = label;
    if (t.impact) {
      el("path", { class: "ellipse", d: path({ type: "LineString", coordinates: ellipseRing(t.impact.point, t.impact.ellipse) }) }, g);
      const [x, y] = projection([t.impact.point.lon_deg, t.impact.point.lat_deg]);
      el("path", { class: "impact", d: `M${x - 5},${y - 5}L${x + 5},${y + 5}M${x - 5},${y + 5}L${x + 5},${y - 5}` }, g);
      const tx = el("text", { x: x + 8, y: y + 14 }, g);
      tx.textContent = `${m.label} impact ${t.track_id}`;
    }
    const pts = t.points.map((p) => [p.lon, p.lat]);
    if (t.launch) pts.unshift([t.launch.point.lon_deg, t.launch.point.lat_deg]);
    if (pts.length > 1) el("path", { class: "line", d: path({ type: "LineString", coordinates: pts }) }, g);
    if (t.launch) {
      const [x, y] = projection([t.launch.point.lon_deg, t.launch.point.lat_deg]);
      el("path", { class: "launch", d: `M${x},${y - 7}L${x + 6},${y + 5}L${x - 6},${y + 5}Z` }, g);
    }
    const last = pts[pts.length - 1];
    if (last) {
      const [x, y] = projection(last);
      el("circle", { cx: x, cy: y, r: 4.5 }, g);
      const tx = el("text", { x: x + 7, y: y - 6, class: "label" }, g);
      tx.textContent = label;
    }
  }

  function render() {
    if (!layer) return;
    const keys = state.all ? [...state.tracks.keys()] : [...state.dirty];
    if (state.all) layer.textContent = "";
    for (const k of keys) { const t = state.tracks.get(k); if (t) drawItem(t); }
    state.dirty.clear();
    state.all = false;
    renderTable();
    renderBanner();
  }
  let scheduled = false;
  function schedule() { if (!scheduled) { scheduled = true; requestAnimationFrame(() => { scheduled = false; render(); }); } }

  function renderBanner() {
    const modes = new Set([...state.tracks.values()].map((t) => t.mode));
    const b = document.getElementById("mode-banner");
    const parts = [];
    if (modes.has("exercise")) parts.push("EXERCISE EXERCISE EXERCISE");
    if (modes.has("test")) parts.push("TEST TRAFFIC");
    if (parts.length === 0) { b.className = "banner hidden"; b.textContent = ""; return; }
    b.className = "banner " + (modes.has("exercise") ? "exercise" : "test");
    b.textContent = parts.join(" — ") + (modes.has("real_world") ? " — REAL-WORLD TRACKS ALSO SHOWN (solid red)" : "");
  }

  function renderTable() {
    const body = document.querySelector("#tracks tbody");
    body.textContent = "";
    for (const t of state.tracks.values()) {
      const m = modeOf(t.mode);
      const tr = document.createElement("tr");
      tr.className = m.cls;
      tr.setAttribute("data-key", t.key);
      const phase = t.cancelled ? "cancelled" : t.ended ? "ended" : (t.flight_phase || (t.launch ? "launch" : ""));
      for (const [cls, text] of [["mode", m.label], ["", `${t.origin.toUpperCase()} ${t.track_id}`], ["", phase], ["", t.messages], ["", t.last_latency_ms.toFixed(1) + " ms"]]) {
        const td = document.createElement("td");
        if (cls) td.className = cls;
        td.textContent = text;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }

  function renderHealth() {
    const box = document.getElementById("health");
    box.textContent = "";
    const bySite = new Map();
    for (const r of state.health.values()) {
      if (!bySite.has(r.site)) bySite.set(r.site, []);
      bySite.get(r.site).push(r);
    }
    if (bySite.size === 0) box.textContent = "no heartbeat received yet";
    const now = Date.now();
    for (const [site, rows] of [...bySite.entries()].sort()) {
      const d = document.createElement("div");
      const bad = rows.some((r) => r.state !== "ok");
      d.className = "site" + (bad ? " bad" : "");
      d.setAttribute("data-site", site);
      d.setAttribute("data-state", bad ? "bad" : "ok");
      const n = document.createElement("div");
      n.className = "name";
      n.textContent = `${site.toUpperCase()} site` + (site === "us" ? " (hub)" : "");
      d.appendChild(n);
      for (const r of rows) {
        const line = document.createElement("div");
        line.setAttribute("data-component", r.component);
        line.setAttribute("data-state", r.state);
        const age = ((now - Date.parse(r.last_seen)) / 1000).toFixed(1);
        line.innerHTML = "";
        const s = document.createElement("span");
        s.className = "state-" + r.state;
        s.textContent = r.state.toUpperCase();
        line.append(`${r.component}: `, s, ` · last heartbeat ${age} s ago · ${r.heartbeats} received`);
        d.appendChild(line);
      }
      box.appendChild(d);
    }
  }

  function applyPicture(p) {
    state.viewer = p.viewer;
    document.getElementById("viewer").textContent = `viewer: ${String(p.viewer).toUpperCase()} (released to ${String(p.viewer).toUpperCase()} only)`;
    state.tracks = new Map(p.tracks.map((t) => [t.key, t]));
    state.health = new Map(p.health.components.map((r) => [r.site + "/" + r.component, r]));
    state.all = true;
    schedule();
    renderHealth();
  }

  function onTrack(t) {
    T.latencies.push(Date.now() - t.last_ingested_ms);
    if (T.latencies.length > 5000) T.latencies.shift();
    state.tracks.set(t.key, t);
    state.dirty.add(t.key);
    schedule();
  }

  function connect() {
    const es = new EventSource("/api/events");
    const conn = document.getElementById("conn");
    es.onopen = () => { conn.textContent = "live"; conn.className = "conn ok"; };
    es.onerror = () => { conn.textContent = "view stream lost — reconnecting"; conn.className = "conn lost"; };
    es.addEventListener("picture", (e) => applyPicture(JSON.parse(e.data)));
    es.addEventListener("track", (e) => onTrack(JSON.parse(e.data)));
    es.addEventListener("health", (e) => {
      const r = JSON.parse(e.data);
      state.health.set(r.site + "/" + r.component, r);
      renderHealth();
    });
  }

  async function refreshStats() {
    try {
      const h = await (await fetch("/api/health")).json();
      const l = h.latency;
      document.getElementById("stats").textContent =
        `accepted ${h.accepted} · refused ${h.rejected} · end-to-end latency p50 ${l.p50_ms.toFixed(1)} ms p99 ${l.p99_ms.toFixed(1)} ms max ${l.max_ms.toFixed(1)} ms`;
      renderHealth();
    } catch (e) {
      document.getElementById("stats").textContent = "health unavailable";
    }
  }

  fetch("/assets/vendor/countries-50m.json")
    .then((r) => r.json())
    .then((world) => { setupMap(world); state.all = true; schedule(); connect(); })
    .catch((e) => T.errors.push("map load failed: " + e));
  setInterval(refreshStats, 1000);
})();
