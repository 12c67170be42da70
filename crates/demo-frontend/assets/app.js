"use strict";
// The live page: polls /api/summary once a second and redraws the numbers, the replica
// bars and four SVG charts. No library: everything here is plain DOM and SVG.
(() => {
  const POLL_MS = 1000;
  const FETCH_TIMEOUT_MS = 3000;
  const WINDOW_MS = 10 * 60 * 1000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ACTIONS = {
    book_ticket: { label: "Book ticket", color: "#2f6fde" },
    cancel_ticket: { label: "Cancel ticket", color: "#e07b24" },
    give_feedback: { label: "Give feedback", color: "#8a4fd6" },
  };
  const $ = (id) => document.getElementById(id);

  // ---------- formatting ----------
  const known = (v) => v !== null && v !== undefined && Number.isFinite(v);
  const fmtInt = (v) => (known(v) ? Math.round(v).toLocaleString("en-US") : "–");
  const fmtRate = (v) => {
    if (!known(v)) return "–";
    if (v >= 100) return Math.round(v).toLocaleString("en-US");
    return v.toFixed(1);
  };
  const fmtMs = (v) => {
    if (!known(v)) return "–";
    if (v < 10) return v.toFixed(1);
    return Math.round(v).toLocaleString("en-US");
  };
  const fmtAgo = (seconds) => {
    if (!known(seconds)) return "";
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
  };
  const clock = (ms) => new Date(ms).toLocaleTimeString("en-GB", { hour12: false });

  /** Creates an element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "style") node.style.cssText = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // ---------- session and the action buttons ----------
  function makeSessionId() {
    const fresh = "web-" + Math.random().toString(36).slice(2, 10);
    try {
      const saved = window.sessionStorage.getItem("movie-night-session");
      if (saved) return saved;
      window.sessionStorage.setItem("movie-night-session", fresh);
    } catch (_) {
      // Storage can be disabled; a per-load id is fine then.
    }
    return fresh;
  }
  const session = makeSessionId();
  const booked = []; // ticket ids booked from this page, most recent last

  function showResult(ok, text) {
    const r = $("result");
    r.className = "result " + (ok ? "ok" : "bad");
    r.textContent = text;
  }

  function updateButtons(busy) {
    $("btn-book").disabled = busy;
    $("btn-feedback").disabled = busy;
    const cancel = $("btn-cancel");
    cancel.disabled = busy || booked.length === 0;
    cancel.title = booked.length ? `Cancel ticket ${booked[booked.length - 1]}` : "Book a ticket first";
  }

  async function act(kind) {
    let method = "POST";
    let path;
    let body = null;
    let label;
    if (kind === "book") {
      label = "Booking";
      path = "/api/tickets";
      body = { showtime_id: 1 + Math.floor(Math.random() * 5), seats: 1 };
    } else if (kind === "cancel") {
      if (!booked.length) return;
      label = "Cancelling";
      method = "DELETE";
      path = "/api/tickets/" + encodeURIComponent(booked[booked.length - 1]);
    } else {
      label = "Feedback";
      path = "/api/feedback";
      body = { rating: 5, comment: "Great night! (sent from the live page)" };
    }
    updateButtons(true);
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), 15000);
    try {
      const headers = { "x-session-id": session, accept: "application/json" };
      if (body) headers["content-type"] = "application/json";
      const resp = await fetch(path, {
        method,
        headers,
        body: body ? JSON.stringify(body) : undefined,
        signal: ctrl.signal,
      });
      const text = await resp.text();
      let data = null;
      try {
        data = text ? JSON.parse(text) : null;
      } catch (_) {
        data = null;
      }
      if (!resp.ok) {
        const why = (data && (data.error || data.detail)) || text || resp.statusText;
        showResult(false, `${label} failed: HTTP ${resp.status}: ${why}`);
        return;
      }
      if (kind === "book") {
        if (data && data.id) booked.push(data.id);
        const seats = data && data.seats ? data.seats : 1;
        showResult(true, `✓ Booked ticket ${data && data.id ? data.id : ""} for showtime ${data ? data.showtime_id : "?"} (${seats} seat${seats === 1 ? "" : "s"})`);
      } else if (kind === "cancel") {
        const id = booked.pop();
        showResult(true, `✓ Cancelled ticket ${id}`);
      } else {
        showResult(true, `✓ Thanks! Feedback ${data && data.id ? data.id : ""} recorded`);
      }
    } catch (e) {
      const why = e && e.name === "AbortError" ? "no answer within 15 s" : (e && e.message) || String(e);
      showResult(false, `${label} failed: ${why}`);
    } finally {
      clearTimeout(timer);
      updateButtons(false);
    }
  }

  $("btn-book").addEventListener("click", () => act("book"));
  $("btn-cancel").addEventListener("click", () => act("cancel"));
  $("btn-feedback").addEventListener("click", () => act("feedback"));

  // ---------- header, banner and numbers ----------
  function renderStatus(s) {
    const b = s.backend;
    $("source").textContent = `backend ${b.url} · replicas from ${b.source}`;
    const pill = $("state-pill");
    const { up, total } = { up: s.current.replicas_up, total: s.current.replicas_total };
    const states = {
      starting: ["", "Starting…"],
      ok: ["ok", `All ${total} replica${total === 1 ? "" : "s"} up`],
      degraded: ["warn", `${total - up} of ${total} replicas down`],
      unreachable: ["bad", "Backend unreachable"],
      no_replicas: ["bad", "No replicas"],
    };
    const [cls, text] = states[b.state] || ["", b.state];
    pill.className = "pill " + cls;
    $("state-text").textContent = text;
    const banner = $("banner");
    if (b.state === "unreachable" || b.state === "no_replicas") {
      banner.className = "banner";
      banner.textContent = b.message;
    } else if (b.state === "degraded") {
      banner.className = "banner warn";
      banner.textContent = b.message;
    } else {
      banner.className = "banner hidden";
      banner.textContent = "";
    }
    $("updated").textContent = s.generated_at_ms ? `updated ${clock(s.generated_at_ms)}` : "waiting for the first poll";
  }

  function renderKpis(s) {
    const c = s.current;
    $("k-rps").textContent = fmtRate(c.requests_per_s);
    $("k-err").textContent = fmtRate(c.errors_per_s);
    const pct = c.requests_per_s > 0 ? (100 * c.errors_per_s) / c.requests_per_s : 0;
    $("k-err-pct").textContent = c.requests_per_s > 0 ? `per second · ${pct.toFixed(pct < 10 ? 1 : 0)}% of requests` : "per second";
    $("k-err").parentElement.classList.toggle("alert", c.errors_per_s > 0);
    $("k-lat").textContent = known(c.latency_p95_ms) ? `${fmtMs(c.latency_p50_ms)} / ${fmtMs(c.latency_p95_ms)}` : "–";
    $("k-sess").textContent = fmtInt(c.active_sessions);
    $("k-queue").textContent = fmtInt(c.queue_depth);
    $("k-queue-sub").textContent = `${fmtInt(c.in_flight)} in flight · ${fmtInt(c.workers)} workers`;
    $("k-queue").parentElement.classList.toggle("alert", c.queue_depth > 0 && c.queue_depth >= c.workers);
    $("k-shed").textContent = fmtInt(c.shed_total);
    $("k-shed-sub").textContent = c.shed_per_s > 0 ? `${fmtRate(c.shed_per_s)}/s now: queue full` : "refused: queue full";
    $("k-shed").parentElement.classList.toggle("alert", c.shed_per_s > 0);
    $("k-reps").textContent = `${c.replicas_up} / ${c.replicas_total}`;
    $("k-reps").parentElement.classList.toggle("alert", c.replicas_up < c.replicas_total || c.replicas_total === 0);
  }

  function renderActions(s) {
    const rows = s.actions.map((a) => {
      const meta = ACTIONS[a.action] || { label: a.action, color: "#888" };
      return el(
        "tr",
        { "data-action": a.action },
        el("td", {}, el("span", { class: "swatch", style: `background:${meta.color}` }), meta.label),
        el("td", { class: "num" }, `${fmtRate(a.rate_per_s)}/s`),
        el("td", { class: "num total" }, fmtInt(a.ok_total)),
        el("td", { class: "num" }, fmtInt(a.errors_total)),
      );
    });
    $("actions-body").replaceChildren(...rows);
  }

  // "CPU 0.12 cores · 35 MiB", or what the replica does not report.
  function usage(r) {
    const cpu = known(r.cpu_cores) ? `CPU ${r.cpu_cores.toFixed(2)} cores` : "CPU n/a";
    const mem = known(r.memory_bytes) ? ` · ${(r.memory_bytes / 1048576).toFixed(0)} MiB` : "";
    return cpu + mem;
  }

  function renderReplicas(s) {
    const items = s.replicas.map((r) => {
      const pct = Math.round(100 * (r.share || 0));
      const meta = r.up
        ? `${fmtRate(r.requests_per_s)} req/s · p95 ${fmtMs(r.latency_p95_ms)} ms · queue ${fmtInt(r.queue_depth)} · up ${fmtAgo(r.uptime_seconds)}`
        : `down: ${r.error || "not answering"}`;
      // Marked new for a minute after it joined (a scale-up), not at the frontend's start.
      const fresh = known(r.joined_ms) && s.generated_at_ms - r.joined_ms < 60000;
      return el(
        "div",
        { class: "replica" + (r.up ? "" : " down"), "data-up": String(r.up) },
        el("span", { class: "dot", title: r.up ? "answering" : "not answering" }),
        el(
          "div",
          { style: "min-width:0" },
          el(
            "div",
            { class: "name", title: r.url },
            r.name || r.url,
            r.name ? el("span", { class: "url" }, r.url.replace(/^https?:\/\//, "")) : null,
            fresh ? el("span", { class: "badge", title: "joined less than a minute ago" }, "NEW") : null,
          ),
          el("div", { class: "meta", title: meta }, meta),
        ),
        el(
          "div",
          {},
          el("div", { class: "bar" }, el("span", { style: `width:${r.up ? pct : 0}%` })),
          el("div", { class: "share" }, r.up ? `${pct}% of traffic` : "no traffic"),
          r.up ? el("div", { class: "usage", title: "CPU cores it used since the last poll; memory of its process (none locally: every replica shares the orchestrator's)" }, usage(r)) : null,
        ),
      );
    });
    if (!items.length) items.push(el("div", { class: "lg-idle" }, "No replica listed yet."));
    $("replicas").replaceChildren(...items);
  }

  function renderLoadgen(s) {
    const box = $("loadgen");
    const lg = s.loadgen;
    if (!lg) {
      box.replaceChildren(el("div", { class: "lg-idle" }, "No load generator configured (start the frontend with --loadgen-url to see it here)."));
      return;
    }
    if (!lg.running) {
      box.replaceChildren(
        el("div", { class: "lg-row" }, el("span", {}, "State"), el("strong", {}, "Not running")),
        el("div", { class: "lg-idle", style: "margin-top:6px" }, "It starts with the load phase of the run and is removed after it."),
        el("div", { class: "lg-idle", style: "margin-top:4px;font-size:12px", title: lg.message }, lg.url),
      );
      return;
    }
    const target = lg.target_rps || 0;
    const achieved = lg.current_rps || 0;
    const pct = target > 0 ? Math.min(100, Math.round((100 * achieved) / target)) : 0;
    const dropsBad = (lg.dropped_per_s || 0) > 0;
    box.replaceChildren(
      el("div", { class: "lg-row" }, el("span", {}, "State"), el("strong", { style: "color:var(--ok)" }, "Running")),
      el("div", { class: "lg-row" }, el("span", {}, "Target rate"), el("strong", {}, `${fmtRate(target)} req/s`)),
      el("div", { class: "lg-row" }, el("span", {}, "Achieved rate"), el("strong", {}, `${fmtRate(achieved)} req/s (${pct}%)`)),
      el("div", { class: "lg-bars bar", title: "achieved / target" }, el("span", { style: `width:${pct}%` })),
      el("div", { class: "lg-row" }, el("span", {}, "Sent"), el("strong", {}, fmtInt(lg.sent_total))),
      el("div", { class: "lg-row" }, el("span", {}, "Errors"), el("strong", { class: (lg.errors_per_s || 0) > 0 ? "bad" : "" }, `${fmtInt(lg.errors_total)} (${fmtRate(lg.errors_per_s)}/s)`)),
      el("div", { class: "lg-row" }, el("span", {}, "Dropped (not sent on time)"), el("strong", { class: dropsBad ? "bad" : "" }, `${fmtInt(lg.dropped_total)} (${fmtRate(lg.dropped_per_s)}/s)`)),
    );
  }

  /** The autoscaler's latest sync: its metric against the target, desired vs ready. */
  function renderAutoscaler(s) {
    const card = $("autoscaler-card");
    const a = s.autoscaler;
    card.hidden = !a;
    if (!a) return;
    const st = a.status;
    if (!st) {
      $("autoscaler").replaceChildren(el("div", { class: "lg-idle", title: a.message }, "Waiting for its first decision."));
      return;
    }
    const value = st.value == null ? "not read (holding its last decision)" : fmtRate(st.value);
    const over = st.value != null && st.value > st.target;
    $("autoscaler").replaceChildren(
      el("div", { class: "lg-row" }, el("span", {}, "Mode"), el("strong", {}, st.mode)),
      el("div", { class: "lg-row" }, el("span", {}, `${st.metric} per replica`), el("strong", { id: "as-value", class: over ? "bad" : "" }, `${value} / target ${fmtRate(st.target)}`)),
      el("div", { class: "lg-row" }, el("span", {}, "Replicas desired / ready"), el("strong", { id: "as-replicas" }, `${st.desired} / ${st.ready} (min ${st.min}, max ${st.max})`)),
      el("div", { class: "lg-row" }, el("span", {}, "Last decision"), el("strong", {}, st.reason)),
      a.message === "reachable" ? null : el("div", { class: "lg-idle", style: "margin-top:4px" }, a.message),
    );
  }

  // ---------- charts ----------
  /** 0 and about four "nice" steps up to at least `max`. */
  function niceTicks(max, integer) {
    if (!(max > 0)) max = integer ? 1 : 1;
    let raw = max / 4;
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / pow;
    let step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
    if (integer) step = Math.max(1, Math.ceil(step));
    const ticks = [];
    for (let v = 0; v < max + step * 0.999; v += step) ticks.push(v);
    if (ticks.length < 2) ticks.push(step);
    return ticks;
  }

  function fmtTick(v) {
    if (v >= 1000) return (v / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 }) + "k";
    if (Number.isInteger(v)) return String(v);
    return v.toFixed(v < 1 ? 2 : 1);
  }

  function svgEl(tag, attrs, text) {
    const n = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    return n;
  }

  /**
   * Draws one chart over the last 10 minutes. Each series is labelled at its right end
   * with its name and latest value, so no legend is needed.
   */
  function drawChart(svg, t, series, opts) {
    const W = svg.clientWidth || 640;
    const H = svg.clientHeight || 190;
    const m = { l: 50, r: 112, t: 8, b: 22 };
    const iw = Math.max(10, W - m.l - m.r);
    const ih = Math.max(10, H - m.t - m.b);
    const end = t.length ? t[t.length - 1] : Date.now();
    const span = opts.span;
    const start = end - span;
    let max = opts.floor || 0;
    for (const s of series) for (const v of s.values) if (known(v) && v > max) max = v;
    const ticks = niceTicks(max, opts.integer);
    const top = ticks[ticks.length - 1];
    const x = (ts) => m.l + ((ts - start) / span) * iw;
    const y = (v) => m.t + ih - (v / top) * ih;
    const nodes = [];
    for (const tk of ticks) {
      nodes.push(svgEl("line", { class: "grid", x1: m.l, x2: m.l + iw, y1: y(tk), y2: y(tk) }));
      nodes.push(svgEl("text", { x: m.l - 6, y: y(tk) + 4, "text-anchor": "end" }, fmtTick(tk)));
    }
    // The unit, along the y axis.
    nodes.push(svgEl("text", { x: 12, y: m.t + ih / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${m.t + ih / 2})` }, opts.unit));
    nodes.push(svgEl("line", { class: "axis", x1: m.l, x2: m.l + iw, y1: m.t + ih, y2: m.t + ih }));
    const step = span <= 30000 ? 5000 : span <= 60000 ? 10000 : span <= 120000 ? 30000 : span <= 300000 ? 60000 : 120000;
    for (let ago = span; ago >= 0; ago -= step) {
      const xx = x(end - ago);
      const label = ago === 0 ? "now" : ago < 60000 ? `−${ago / 1000} s` : `−${ago / 60000} min`;
      nodes.push(svgEl("line", { class: "axis", x1: xx, x2: xx, y1: m.t + ih, y2: m.t + ih + 4 }));
      nodes.push(svgEl("text", { x: xx, y: H - 6, "text-anchor": "middle" }, label));
    }
    const labels = [];
    for (const s of series) {
      let d = "";
      let pen = false;
      let points = 0;
      let lastV = null;
      let lastX = null;
      for (let i = 0; i < t.length; i++) {
        const v = s.values[i];
        if (!known(v) || t[i] < start) {
          pen = false;
          continue;
        }
        const px = x(t[i]).toFixed(1);
        const py = y(v).toFixed(1);
        if (!pen) d += `M${px},${py}`;
        else if (s.step) d += `H${px}V${py}`;
        else d += `L${px},${py}`;
        pen = true;
        points++;
        lastV = v;
        lastX = +px;
      }
      if (!points) continue;
      nodes.push(svgEl("path", {
        class: "series",
        d,
        fill: "none",
        stroke: s.color,
        "stroke-width": s.width || 1.8,
        "stroke-dasharray": s.dash || "none",
        "stroke-linejoin": "round",
        "data-series": s.name,
        "data-points": points,
      }));
      nodes.push(svgEl("circle", { cx: lastX, cy: y(lastV), r: 2.8, fill: s.color }));
      labels.push({ y: y(lastV), text: `${s.name} ${opts.fmt(lastV)}`, color: s.color });
    }
    // Direct labels at the right edge, nudged apart so they never overlap.
    labels.sort((a, b) => a.y - b.y);
    const gap = 13;
    for (let i = 1; i < labels.length; i++) {
      labels[i].y = Math.max(labels[i].y, labels[i - 1].y + gap);
    }
    // Labels pushed below the plot move back up, together.
    const bottom = m.t + ih;
    for (let i = labels.length - 1; i >= 0; i--) {
      const limit = i === labels.length - 1 ? bottom : labels[i + 1].y - gap;
      labels[i].y = Math.min(labels[i].y, limit);
    }
    for (const l of labels) {
      nodes.push(svgEl("text", { class: "series", x: m.l + iw + 8, y: l.y + 4, fill: l.color, style: `fill:${l.color}` }, l.text));
    }
    if (!labels.length) {
      nodes.push(svgEl("text", { class: "empty", x: m.l + iw / 2, y: m.t + ih / 2, "text-anchor": "middle" }, opts.empty || "no data yet"));
    }
    svg.replaceChildren(...nodes);
  }

  function setTitle(id, title, now, span) {
    const h = $(id);
    const range = span >= WINDOW_MS ? "last 10 min" : `last ${span < 60000 ? span / 1000 + " s" : span / 60000 + " min"} (page zooms out up to 10 min)`;
    h.replaceChildren(title, el("span", { class: "now" }, now), el("span", { class: "hint" }, range));
  }

  /**
   * The charts always end at "now"; they show 10 minutes once there is that much history,
   * and zoom to the data before that (at least 30 s), so a fresh page is readable.
   */
  function chartSpan(t) {
    const have = t.length > 1 ? t[t.length - 1] - t[0] : 0;
    for (const span of [30000, 60000, 120000, 300000]) if (have <= span) return span;
    return WINDOW_MS;
  }

  function renderCharts(s) {
    const h = s.history;
    const t = h.t_ms;
    const span = chartSpan(t);
    const short = { book_ticket: "Book", cancel_ticket: "Cancel", give_feedback: "Feedback" };
    const rps = [];
    for (const a of h.by_action) {
      const meta = ACTIONS[a.action] || { label: a.action, color: "#888" };
      rps.push({ name: short[a.action] || meta.label, color: meta.color, values: a.rate_per_s, width: 1.4 });
    }
    if (h.loadgen_target_rps.some(known)) {
      rps.push({ name: "LG target", color: "#9aa3b5", values: h.loadgen_target_rps, dash: "5 4", width: 1.4 });
    }
    rps.push({ name: "Total", color: "#1c2333", values: h.requests_per_s, width: 2.4 });
    drawChart($("c-rps"), t, rps, { unit: "requests / s", fmt: fmtRate, span });
    setTitle("c-rps-title", "Requests per second", `${fmtRate(s.current.requests_per_s)} req/s now`, span);

    drawChart($("c-lat"), t, [{ name: "p95", color: "#0f8b8d", values: h.latency_p95_ms, width: 2.2 }], {
      unit: "milliseconds",
      fmt: (v) => `${fmtMs(v)} ms`,
      empty: "no requests yet, or no replica answering",
      span,
    });
    const p95 = s.current.latency_p95_ms;
    setTitle("c-lat-title", "Latency p95", known(p95) ? `${fmtMs(p95)} ms now` : "no data now", span);

    drawChart($("c-err"), t, [{ name: "Errors", color: "#d64545", values: h.errors_per_s, width: 2.2 }], {
      unit: "errors / s",
      fmt: fmtRate,
      floor: 1,
      span,
    });
    setTitle("c-err-title", "Errors per second", `${fmtRate(s.current.errors_per_s)}/s now`, span);

    drawChart($("c-rep"), t, [
      { name: "Listed", color: "#9aa3b5", values: h.replicas_total, step: true, dash: "5 4", width: 1.6 },
      { name: "Up", color: "#1f9d55", values: h.replicas_up, step: true, width: 2.4 },
    ], { unit: "replicas", fmt: (v) => String(v), integer: true, floor: 2, span });
    setTitle("c-rep-title", "Replicas", `${s.current.replicas_up} of ${s.current.replicas_total} up`, span);
  }

  // ---------- poll loop ----------
  let latest = null;

  function render(s) {
    latest = s;
    renderStatus(s);
    renderKpis(s);
    renderActions(s);
    renderReplicas(s);
    renderLoadgen(s);
    renderAutoscaler(s);
    renderCharts(s);
    document.body.dataset.polls = String(s.polls);
  }

  function frontendDown(err) {
    const banner = $("banner");
    banner.className = "banner";
    banner.textContent = `This page cannot reach the frontend (${err}); retrying every ${POLL_MS / 1000} s`;
    $("state-pill").className = "pill bad";
    $("state-text").textContent = "Frontend unreachable";
  }

  async function poll() {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), FETCH_TIMEOUT_MS);
    let summary = null;
    try {
      const resp = await fetch("/api/summary", { cache: "no-store", signal: ctrl.signal });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      summary = await resp.json();
    } catch (e) {
      frontendDown(e && e.name === "AbortError" ? "no answer within 3 s" : (e && e.message) || String(e));
    } finally {
      clearTimeout(timer);
      setTimeout(poll, POLL_MS);
    }
    // Outside the try: a drawing bug must surface as an error, not as "unreachable".
    if (summary) render(summary);
  }

  window.addEventListener("resize", () => {
    if (latest) renderCharts(latest);
  });
  updateButtons(false);
  poll();
})();
