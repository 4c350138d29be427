// trilink view: draws the picture served by /api/picture and kept live by /api/events (SSE).
// No network but this server: the map data and libraries are served from /assets.
//
// Shape: picture = { version, viewer, tracks: [TrackView], events: [EventView], health }.
// Tracks are national tracks; events are the hub's common events (fused track, launch point,
// impact ellipse, contributing national tracks, history). Each event has a time slider that
// replays its history on the map; at its right end the event is live.
"use strict";
(function () {
  const T = window.__trilink;
  const MODE = {
    real_world: { cls: "real", label: "REAL WORLD" },
    exercise: { cls: "exercise", label: "EXERCISE" },
    test: { cls: "test", label: "TEST" },
  };
  const modeOf = (m) => MODE[m] || MODE.real_world;
  const state = {
    viewer: null, tracks: new Map(), events: new Map(), health: new Map(), deadLetters: [],
    dirty: new Set(), dirtyEvents: new Set(), all: true,
    replay: new Map(), // event key -> history index shown (absent: live)
  };
  const svg = document.getElementById("map");
  const NS = "http://www.w3.org/2000/svg";
  let projection = null, path = null, layer = null, evLayer = null;

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
    evLayer = el("g", { id: "events-layer" }, svg);
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
    const ev = t.event ? state.events.get(t.event) : null;
    g.setAttribute("class", `trk ${m.cls}${t.ended ? " ended" : ""}${t.cancelled ? " cancelled" : ""}${ev ? " linked" : ""}`);
    g.setAttribute("data-key", t.key);
    g.setAttribute("data-mode", t.mode);
    if (ev) g.setAttribute("data-event", ev.key); else g.removeAttribute("data-event");
    const label = `${m.label} ${t.origin.toUpperCase()} ${t.track_id}` + (ev ? ` → EV-${ev.short}` : "");
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
      // A linked track's label goes to the left: its event's label is on the right.
      const tx = el("text", ev ? { x: x - 7, y: y + 14, class: "label", "text-anchor": "end" } : { x: x + 7, y: y - 6, class: "label" }, g);
      tx.textContent = label;
    }
  }

  // What an event looked like at history index `i` (the slider), or live when i is undefined.
  function eventAt(ev, i) {
    const h = ev.history || [];
    if (i === undefined || i >= h.length - 1) {
      return {
        live: true, frames: h, state: ev.state,
        position: ev.track ? ev.track.position : (h.length ? h[h.length - 1].position : null),
        impact: ev.impact ? { point: ev.impact.impact_point, ellipse: ev.impact.error_ellipse, time: ev.impact.impact_time } : null,
        contributors: ev.contributors.map((c) => ({ key: c.key, state: c.state })),
        t: h.length ? h[h.length - 1].t : ev.updated_at,
      };
    }
    const frames = h.slice(0, i + 1), f = frames[frames.length - 1];
    return { live: false, frames, state: f.state, position: f.position, impact: f.impact, contributors: f.contributors, t: f.t };
  }

  // One common event: trail, fused symbol, launch, impact ellipse, links to its national tracks.
  function drawEvent(ev) {
    const id = "evt-" + ev.key.replace(/[^A-Za-z0-9_-]/g, "_");
    let g = document.getElementById(id);
    if (g) g.textContent = ""; else g = el("g", { id }, evLayer);
    const m = modeOf(ev.mode);
    const at = eventAt(ev, state.replay.get(ev.key));
    g.setAttribute("class", `evt ${m.cls} state-${at.state}${at.live ? "" : " replay"}`);
    g.setAttribute("data-key", ev.key);
    g.setAttribute("data-mode", ev.mode);
    g.setAttribute("data-state", at.state);
    g.setAttribute("data-frames", String(at.frames.length));
    const label = `${m.label} FUSED EV-${ev.short}` + (at.state !== "active" ? ` (${at.state.toUpperCase()})` : "") + (at.live ? "" : " · REPLAY");
    g.setAttribute("data-label", label);
    el("title", {}, g).textContent = `${label}: ${ev.contributors.map((c) => c.origin.toUpperCase() + " " + c.track_id).join(", ")}`;
    if (at.impact) {
      el("path", { class: "ellipse", d: path({ type: "LineString", coordinates: ellipseRing(at.impact.point, at.impact.ellipse) }) }, g);
      const [x, y] = projection([at.impact.point.lon_deg, at.impact.point.lat_deg]);
      el("path", { class: "impact", d: `M${x - 7},${y - 7}L${x + 7},${y + 7}M${x - 7},${y + 7}L${x + 7},${y - 7}` }, g);
      el("text", { x: x + 9, y: y + 16 }, g).textContent = `${m.label} FUSED impact EV-${ev.short}`;
    }
    const pts = at.frames.filter((f) => f.position).map((f) => [f.position.lon_deg, f.position.lat_deg]);
    if (ev.launch) pts.unshift([ev.launch.launch_point.lon_deg, ev.launch.launch_point.lat_deg]);
    if (pts.length > 1) el("path", { class: "trail", d: path({ type: "LineString", coordinates: pts }) }, g);
    if (ev.launch) {
      const [x, y] = projection([ev.launch.launch_point.lon_deg, ev.launch.launch_point.lat_deg]);
      el("path", { class: "launch", d: `M${x},${y - 9}L${x + 8},${y + 6}L${x - 8},${y + 6}Z` }, g);
    }
    const pos = at.position;
    if (pos) {
      const [x, y] = projection([pos.lon_deg, pos.lat_deg]);
      // Links to the contributing national tracks the viewer holds (their latest point).
      for (const c of at.contributors) {
        const t = state.tracks.get(c.key);
        const last = t && t.points.length ? t.points[t.points.length - 1] : null;
        if (!last) continue;
        const [tx, ty] = projection([last.lon, last.lat]);
        el("line", { class: `link link-${c.state}`, x1: tx, y1: ty, x2: x, y2: y, "data-track": c.key }, g);
      }
      el("path", { class: "fused", d: `M${x},${y - 8}L${x + 8},${y}L${x},${y + 8}L${x - 8},${y}Z` }, g);
      el("text", { x: x + 10, y: y + 4, class: "label" }, g).textContent = label;
    }
  }

  function render() {
    if (!layer) return;
    const t0 = performance.now();
    const keys = state.all ? [...state.tracks.keys()] : [...state.dirty];
    if (state.all) { layer.textContent = ""; evLayer.textContent = ""; }
    for (const k of keys) { const t = state.tracks.get(k); if (t) drawItem(t); }
    const evKeys = state.all ? [...state.events.keys()] : [...state.dirtyEvents];
    for (const k of evKeys) { const e = state.events.get(k); if (e) drawEvent(e); }
    state.dirty.clear();
    state.dirtyEvents.clear();
    state.all = false;
    renderTable();
    renderEvents();
    renderBanner();
    // Render cost, read by the load benchmark (examples/load.rs).
    T.renders.push(performance.now() - t0);
    if (T.renders.length > 5000) T.renders.shift();
  }
  let scheduled = false;
  function schedule() { if (!scheduled) { scheduled = true; requestAnimationFrame(() => { scheduled = false; render(); }); } }

  function renderBanner() {
    const modes = new Set([...state.tracks.values(), ...state.events.values()].map((t) => t.mode));
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
      const ev = t.event ? state.events.get(t.event) : null;
      for (const [cls, text] of [["mode", m.label], ["", `${t.origin.toUpperCase()} ${t.track_id}`], ["", phase], ["", t.messages], ["", t.last_latency_ms.toFixed(1) + " ms"], ["evcol", ev ? "EV-" + ev.short : ""]]) {
        const td = document.createElement("td");
        if (cls) td.className = cls;
        td.textContent = text;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }

  function fmtTime(t) { return t ? String(t).replace("T", " ").replace(/\.\d+/, "") : ""; }

  // The events panel: one card per event, built once and updated in place (the slider keeps
  // its position and focus while updates arrive).
  function renderEvents() {
    const box = document.getElementById("events");
    if (state.events.size === 0) { box.textContent = "no common event released to this viewer"; return; }
    if (!box.querySelector(".event")) box.textContent = "";
    for (const ev of state.events.values()) {
      const m = modeOf(ev.mode);
      let card = box.querySelector(`.event[data-key="${ev.key}"]`);
      if (!card) {
        card = document.createElement("div");
        card.setAttribute("data-key", ev.key);
        card.innerHTML = '<div class="head"></div><ul class="contributors"></ul><div class="impact-text"></div>' +
          '<div class="timeline"><button class="play" title="replay this event">▶</button>' +
          '<input type="range" class="slider" min="0" step="1"><button class="live-btn" title="back to live">live</button>' +
          '<span class="at"></span></div>';
        const slider = card.querySelector(".slider");
        slider.addEventListener("input", () => setReplay(ev.key, Number(slider.value)));
        card.querySelector(".play").addEventListener("click", () => play(ev.key));
        card.querySelector(".live-btn").addEventListener("click", () => setReplay(ev.key, undefined));
        box.appendChild(card);
      }
      const i = state.replay.get(ev.key);
      const at = eventAt(ev, i);
      card.className = `event ${m.cls} state-${at.state}`;
      card.setAttribute("data-state", ev.state);
      card.querySelector(".head").textContent =
        `${m.label} · EV-${ev.short} · ${ev.state.toUpperCase()} · ${ev.missile_class} · first detected by ${ev.first_detected_by.toUpperCase()}`;
      const ul = card.querySelector(".contributors");
      ul.textContent = "";
      for (const c of at.contributors) {
        const li = document.createElement("li");
        li.setAttribute("data-track", c.key);
        li.setAttribute("data-state", c.state);
        const slash = c.key.indexOf("/");
        li.textContent = `${c.key.slice(0, slash).toUpperCase()} ${c.key.slice(slash + 1)} (${c.state})`;
        ul.appendChild(li);
      }
      const imp = at.impact;
      card.querySelector(".impact-text").textContent = imp
        ? `impact ${imp.point.lat_deg.toFixed(2)}°, ${imp.point.lon_deg.toFixed(2)}° at ${fmtTime(imp.time)} · 1σ ${(imp.ellipse.semi_major_m / 1000).toFixed(1)} × ${(imp.ellipse.semi_minor_m / 1000).toFixed(1)} km`
        : "no impact prediction";
      const slider = card.querySelector(".slider");
      const n = (ev.history || []).length;
      slider.max = String(Math.max(0, n - 1));
      if (document.activeElement !== slider) slider.value = String(i === undefined ? Math.max(0, n - 1) : i);
      card.querySelector(".at").textContent = (at.live ? "LIVE · " : "REPLAY · ") + fmtTime(at.t) + ` · ${at.frames.length}/${n}`;
    }
    for (const card of [...box.querySelectorAll(".event")]) {
      if (!state.events.has(card.getAttribute("data-key"))) card.remove();
    }
  }

  function setReplay(key, i) {
    const ev = state.events.get(key);
    if (!ev) return;
    if (i === undefined || i >= (ev.history || []).length - 1) state.replay.delete(key); else state.replay.set(key, i);
    state.dirtyEvents.add(key);
    schedule();
  }

  const players = new Map();
  function play(key) {
    if (players.has(key)) { clearInterval(players.get(key)); players.delete(key); }
    let i = 0;
    setReplay(key, i);
    players.set(key, setInterval(() => {
      const ev = state.events.get(key);
      i += 1;
      if (!ev || i >= (ev.history || []).length - 1) { clearInterval(players.get(key)); players.delete(key); setReplay(key, undefined); return; }
      setReplay(key, i);
    }, 80));
  }

  function renderHealth() {
    const box = document.getElementById("health");
    box.textContent = "";
    const bySite = new Map();
    for (const r of state.health.values()) {
      if (!bySite.has(r.site)) bySite.set(r.site, []);
      bySite.get(r.site).push(r);
    }
    for (const d of state.deadLetters) if (!bySite.has(d.site)) bySite.set(d.site, []);
    if (bySite.size === 0) box.textContent = "no heartbeat received yet";
    const now = Date.now();
    const dl = new Map(state.deadLetters.map((d) => [d.site, d]));
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
      if (rows.length === 0) {
        const line = document.createElement("div");
        line.className = "muted";
        line.textContent = "no heartbeat heard by this viewer";
        d.appendChild(line);
      }
      const dead = dl.get(site);
      if (dead) {
        const line = document.createElement("div");
        line.className = "dead-letters" + (dead.visible && dead.count > 0 ? " some" : "");
        line.setAttribute("data-dead-letters", dead.visible ? String(dead.count) : "hidden");
        line.textContent = dead.visible
          ? `dead letters: ${dead.count}` + (dead.last_reason ? ` · last ${dead.last_reason} ${fmtTime(dead.last_at)}` : "")
          : `dead letters: not visible to the ${String(state.viewer).toUpperCase()} viewer`;
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
    state.deadLetters = p.health.dead_letters || [];
    state.events = new Map((p.events || []).map((e) => [e.key, e]));
    state.all = true;
    schedule();
    renderHealth();
  }

  // Insert `add` (items with a time field `t`) into `into` in time order; keep the last `keep`.
  function mergeByTime(into, add, keep) {
    for (const f of add) {
      let at = into.length;
      const ft = Date.parse(f.t);
      while (at > 0 && Date.parse(into[at - 1].t) > ft) at--;
      into.splice(at, 0, f);
    }
    return into.length > keep ? into.slice(into.length - keep) : into;
  }

  // A live track update carries only its new point: append it to the points held.
  function onTrack(t) {
    T.latencies.push(Date.now() - t.last_ingested_ms);
    if (T.latencies.length > 5000) T.latencies.shift();
    const old = state.tracks.get(t.key);
    t.points = mergeByTime(old ? old.points : [], t.points, t.points_kept);
    state.tracks.set(t.key, t);
    state.dirty.add(t.key);
    if (t.event && state.events.has(t.event)) state.dirtyEvents.add(t.event); // its link moved
    schedule();
  }

  function onEvent(e) {
    T.latencies.push(Date.now() - e.last_ingested_ms);
    if (T.latencies.length > 5000) T.latencies.shift();
    const old = state.events.get(e.key);
    e.history = mergeByTime(old ? old.history : [], e.history, e.frames);
    // A replayed position keeps pointing at the same frame.
    state.events.set(e.key, e);
    state.dirtyEvents.add(e.key);
    for (const c of e.contributors) if (state.tracks.has(c.key)) state.dirty.add(c.key);
    schedule();
  }

  function connect() {
    const es = new EventSource("/api/events");
    const conn = document.getElementById("conn");
    es.onopen = () => { conn.textContent = "live"; conn.className = "conn ok"; };
    es.onerror = () => { conn.textContent = "view stream lost — reconnecting"; conn.className = "conn lost"; };
    es.addEventListener("picture", (e) => applyPicture(JSON.parse(e.data)));
    es.addEventListener("track", (e) => onTrack(JSON.parse(e.data)));
    es.addEventListener("event", (e) => onEvent(JSON.parse(e.data)));
    es.addEventListener("dead_letters", (e) => {
      const d = JSON.parse(e.data);
      state.deadLetters = state.deadLetters.filter((x) => x.site !== d.site).concat([d]);
      renderHealth();
    });
    es.addEventListener("health", (e) => {
      const r = JSON.parse(e.data);
      state.health.set(r.site + "/" + r.component, r);
      renderHealth();
    });
  }

  async function refreshStats() {
    try {
      const h = await (await fetch("/api/health")).json();
      state.deadLetters = h.dead_letters || state.deadLetters;
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
