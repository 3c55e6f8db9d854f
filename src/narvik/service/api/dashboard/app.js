// The narvik dashboard: asks for an API token, then polls the API every 2 s and
// draws the fleet, the queue, power against the cap, heat and recent events.
// Plain JS, no build step; plotly.js is served by narvik itself (no CDN).
"use strict";

(function () {
  const REFRESH_MS = 2000;
  const STORE_KEY = "narvik.token";
  const API = "api/v1/"; // relative: works behind a path prefix too

  const $ = (id) => document.getElementById(id);
  const hasPlotly = typeof window.Plotly !== "undefined";

  let token = null;
  let timer = null;
  let generation = 0; // bumps on sign-in/out so stale loops stop
  let lastOk = null;

  // ---- formatting --------------------------------------------------------

  function mw(watts) {
    if (watts === null || watts === undefined || !isFinite(watts)) return "–";
    const v = watts / 1e6;
    const digits = Math.abs(v) < 1 ? 3 : Math.abs(v) < 100 ? 2 : 1;
    return v.toFixed(digits) + " MW";
  }

  function mwh(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    const digits = Math.abs(v) < 0.1 ? 4 : Math.abs(v) < 100 ? 2 : 0;
    return v.toFixed(digits) + " MWh";
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  // "2027-01-01 12:06:15" from an ISO time in UTC
  function utcText(iso, withDate = true) {
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    const t = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
    if (!withDate) return t;
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${t}`;
  }

  // plotly wants naive date strings; all API times are UTC
  function plotlyTime(iso) {
    return String(iso).replace("T", " ").replace(/(Z|[+-]00:?00)$/, "");
  }

  function wallClock(d = new Date()) {
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function setText(id, text) {
    const el = $(id);
    if (el) el.textContent = text;
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function fillRows(tbody, rows, emptyText, columns) {
    tbody.replaceChildren();
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.className = "empty-row";
      const td = cell(emptyText);
      td.colSpan = columns;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    for (const r of rows) tbody.appendChild(r);
  }

  function keyValueRows(tableId, entries, unit, emptyText) {
    const rows = entries.map(([k, v]) => {
      const tr = document.createElement("tr");
      tr.appendChild(cell(k));
      tr.appendChild(cell(v + (unit ? " " + unit : ""), "num"));
      return tr;
    });
    fillRows($(tableId).tBodies[0], rows, emptyText, 2);
  }

  // ---- API ---------------------------------------------------------------

  class Unauthorized extends Error {}

  async function get(path) {
    const r = await fetch(API + path, {
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
      cache: "no-store",
    });
    if (r.status === 401) {
      let detail = "unknown or revoked token";
      try {
        detail = ((await r.json()).detail || detail).replace(/^Authorization:\s*/, "");
      } catch (_) {
        /* keep the default */
      }
      throw new Unauthorized(detail);
    }
    if (!r.ok) throw new Error(`${path.split("?")[0]}: HTTP ${r.status}`);
    return r.json();
  }

  async function loadAll() {
    const [fleet, power, samples, queue, events] = await Promise.all([
      get("fleet"),
      get("power"),
      get("samples?limit=240"),
      get("jobs?state=queued&limit=20"),
      get("events?limit=20"),
    ]);
    return { fleet, power, samples, queue, events };
  }

  // ---- rendering ---------------------------------------------------------

  const chartFont = { color: "#c9d4e0", size: 12 };
  const gridColor = "#2a3542";
  const plotConfig = { displayModeBar: false, responsive: true };

  function baseLayout() {
    return {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: chartFont,
      margin: { l: 60, r: 16, t: 10, b: 56 },
      legend: { orientation: "h", x: 0, y: 1.12, font: chartFont, traceorder: "normal" },
    };
  }

  function renderFleet(fleet) {
    setText("fleet-total", `${fleet.busy_gpus} / ${fleet.gpus}`);
    const pct = fleet.gpus ? Math.round((100 * fleet.busy_gpus) / fleet.gpus) : 0;
    setText("fleet-running", `${pct}% busy · ${fleet.running_jobs} jobs running`);
    setText("queue-jobs", String(fleet.queued_jobs));
    setText("queue-gpus", `jobs waiting for ${fleet.queued_gpus} GPUs`);
    setText("queue-summary", `${fleet.queued_jobs} jobs · ${fleet.queued_gpus} GPUs`);
    setText("service-time", "service time " + utcText(fleet.now) + " UTC");

    const byTenant = Object.entries(fleet.busy_gpus_by_tenant);
    const byTier = Object.entries(fleet.busy_gpus_by_tier);
    keyValueRows("by-tenant", byTenant, "GPUs", "none running");
    keyValueRows("by-tier", byTier, "GPUs", "none running");
    keyValueRows(
      "by-hall",
      fleet.halls.map((h) => [h.name, `${h.busy_gpus} / ${h.gpus}`]),
      "GPUs",
      "no halls online",
    );

    if (!hasPlotly) return;
    const group = (label, n) => Array(n).fill(label);
    const traces = [
      {
        type: "bar",
        name: "tenant",
        x: [group("by tenant", byTenant.length), byTenant.map((e) => e[0])],
        y: byTenant.map((e) => e[1]),
        marker: { color: "#4cc2ff" },
        hovertemplate: "%{x}: %{y} GPUs<extra></extra>",
      },
      {
        type: "bar",
        name: "tier",
        x: [group("by tier", byTier.length), byTier.map((e) => e[0])],
        y: byTier.map((e) => e[1]),
        marker: { color: "#a371f7" },
        hovertemplate: "%{x}: %{y} GPUs<extra></extra>",
      },
      {
        type: "bar",
        name: "hall busy",
        x: [group("by hall", fleet.halls.length), fleet.halls.map((h) => "hall " + h.name)],
        y: fleet.halls.map((h) => h.busy_gpus),
        marker: { color: "#3fb950" },
        hovertemplate: "%{x}: %{y} busy<extra></extra>",
      },
      {
        type: "bar",
        name: "hall idle",
        x: [group("by hall", fleet.halls.length), fleet.halls.map((h) => "hall " + h.name)],
        y: fleet.halls.map((h) => h.gpus - h.busy_gpus),
        marker: { color: "#3b4756" },
        hovertemplate: "%{x}: %{y} idle<extra></extra>",
      },
    ];
    const layout = Object.assign(baseLayout(), {
      barmode: "stack",
      xaxis: { type: "multicategory", gridcolor: gridColor, tickfont: chartFont },
      yaxis: {
        title: { text: "GPUs" },
        gridcolor: gridColor,
        zerolinecolor: gridColor,
        rangemode: "tozero",
        range: [0, Math.max(fleet.gpus, 1) * 1.05],
      },
      bargap: 0.35,
    });
    Plotly.react("occupancy-chart", traces, layout, plotConfig);
  }

  function renderQueue(page) {
    const rows = page.jobs.map((j) => {
      const tr = document.createElement("tr");
      tr.dataset.jobId = j.id;
      tr.appendChild(cell(String(j.id), "num"));
      tr.appendChild(cell(j.tenant));
      tr.appendChild(cell(String(j.gpus), "num"));
      tr.appendChild(cell(utcText(j.submitted_at)));
      return tr;
    });
    fillRows($("queue-table").tBodies[0], rows, "the queue is empty", 4);
    if (page.total > page.jobs.length) {
      const tr = document.createElement("tr");
      tr.className = "empty-row";
      const td = cell(`… and ${page.total - page.jobs.length} more`);
      td.colSpan = 4;
      tr.appendChild(td);
      $("queue-table").tBodies[0].appendChild(tr);
    }
  }

  // the grid cap in force, and what it is made of during a curtailment:
  // "170.0 MW (230.0 MW less a 60.00 MW curtailment)"
  function gridCapText(power) {
    if (power.grid_cap_w === null) return "none";
    if (!(power.curtailed_w > 0)) return mw(power.grid_cap_w);
    return `${mw(power.grid_cap_w)} (${mw(power.grid_capacity_w)} less a ${mw(power.curtailed_w)} curtailment)`;
  }

  function renderPower(power) {
    setText("facility-mw", mw(power.facility_power_w));
    setText(
      "grid-cap-mw",
      power.grid_cap_w === null
        ? "no grid cap"
        : "grid cap " + mw(power.grid_cap_w) + (power.curtailed_w > 0 ? " (curtailed)" : ""),
    );
    setText("pue", power.pue === null ? "–" : power.pue.toFixed(3));
    setText("phase", power.phase ? "phase " + power.phase.replace(/^phase-/, "") : "");
    setText("heat-mw", mw(power.heat_reused_w));
    setText("heat-mwh", mwh(power.heat_reused_mwh) + " so far");
    setText("curtailed-mw", mw(power.curtailed_w));
    const capPct = Math.round(power.gpu_power_cap_fraction * 100);
    setText("cap-fraction", `GPU power cap ${capPct}%`);

    setText("fig-facility", mw(power.facility_power_w));
    setText("fig-it", mw(power.it_power_w));
    setText("fig-grid-cap", gridCapText(power));
    setText("fig-it-budget", power.it_budget_w === null ? "unlimited" : mw(power.it_budget_w));
    setText("fig-curtailed", mw(power.curtailed_w));
    setText("fig-cap-fraction", `${capPct}%`);
    setText("fig-ambient", power.ambient_c === null ? "–" : power.ambient_c.toFixed(1) + " °C");
    setText("fig-heat-mwh", mwh(power.heat_reused_mwh));

    const offtakers = Object.entries(power.offtaker_delivered_w).map(([k, v]) => [k, mw(v)]);
    keyValueRows("offtakers", offtakers, "", "no heat offtakers");
  }

  function renderSamples(samples) {
    if (!hasPlotly) return;
    const x = samples.map((s) => plotlyTime(s.at));
    const line = (name, key, style) =>
      Object.assign(
        {
          type: "scatter",
          mode: "lines",
          name,
          x,
          y: samples.map((s) => s[key] / 1e6),
          hovertemplate: "%{y:.3f} MW<extra>" + name + "</extra>",
        },
        style,
      );
    const traces = [
      // the cap in force at each sample: the connection less any curtailment
      line("grid cap", "grid_cap_w", { line: { color: "#f85149", dash: "dash", width: 2, shape: "hv" } }),
      line("IT budget", "it_budget_w", { line: { color: "#d29922", dash: "dot", width: 2, shape: "hv" } }),
      line("facility power", "facility_power_w", { line: { color: "#4cc2ff", width: 2.5 } }),
      line("IT power", "it_power_w", { line: { color: "#3fb950", width: 2 } }),
    ];
    const layout = Object.assign(baseLayout(), {
      xaxis: {
        type: "date",
        title: { text: "service time (UTC)" },
        gridcolor: gridColor,
      },
      yaxis: {
        title: { text: "power (MW)" },
        gridcolor: gridColor,
        zerolinecolor: gridColor,
        rangemode: "tozero",
        tickformat: ".3~f",
      },
      hovermode: "x unified",
    });
    Plotly.react("power-chart", traces, layout, plotConfig);
  }

  function renderEvents(events) {
    const rows = events.map((e) => {
      const tr = document.createElement("tr");
      tr.appendChild(cell(utcText(e.at)));
      const kind = document.createElement("td");
      const badge = document.createElement("span");
      badge.className = "kind kind-" + String(e.kind).replace(/[^a-z0-9_-]/gi, "");
      badge.textContent = e.kind;
      kind.appendChild(badge);
      tr.appendChild(kind);
      tr.appendChild(cell(e.tenant || "–", e.tenant ? "" : "muted"));
      tr.appendChild(cell(e.message));
      return tr;
    });
    fillRows($("events").tBodies[0], rows, "no events yet", 4);
  }

  function render(data) {
    renderFleet(data.fleet);
    renderQueue(data.queue);
    renderPower(data.power);
    renderSamples(data.samples);
    renderEvents(data.events);
  }

  // ---- state: signed out / signed in -------------------------------------

  function showLogin(message) {
    generation += 1;
    clearTimeout(timer);
    $("dashboard").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    setText("updated-at", "not connected");
    setText("service-time", "");
    const err = $("login-error");
    err.hidden = !message;
    err.textContent = message || "";
    $("token").focus();
  }

  function showDashboard() {
    // charts drawn before the dashboard was hidden kept their old size: redo it
    if ($("dashboard").hidden && hasPlotly) {
      requestAnimationFrame(() => {
        for (const id of ["occupancy-chart", "power-chart"]) {
          if ($(id).classList.contains("js-plotly-plot")) Plotly.Plots.resize(id);
        }
      });
    }
    $("login").hidden = true;
    $("login-error").hidden = true;
    $("dashboard").hidden = false;
    $("logout").hidden = false;
  }

  function refused(detail) {
    sessionStorage.removeItem(STORE_KEY);
    token = null;
    showLogin(`Token refused by the server (401): ${detail}.`);
  }

  async function tick(gen) {
    if (gen !== generation) return;
    try {
      const data = await loadAll();
      if (gen !== generation) return;
      showDashboard();
      render(data);
      lastOk = new Date();
      $("status").hidden = true;
      setText("updated-at", "updated " + wallClock());
    } catch (err) {
      if (gen !== generation) return;
      if (err instanceof Unauthorized) {
        refused(err.message);
        return;
      }
      // network trouble or a server error: keep the last data, say so
      const since = lastOk ? ` Showing data from ${wallClock(lastOk)}.` : "";
      const st = $("status");
      st.textContent = `Cannot reach the API (${err.message || err}); retrying every 2 s.` + since;
      st.hidden = false;
      if (!lastOk) showDashboard();
    }
    if (gen === generation) timer = setTimeout(() => tick(gen), REFRESH_MS);
  }

  function connect(t) {
    token = t;
    sessionStorage.setItem(STORE_KEY, t);
    generation += 1;
    clearTimeout(timer);
    lastOk = null;
    setText("updated-at", "connecting…");
    tick(generation);
  }

  // ---- wiring ------------------------------------------------------------

  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token").value.trim();
    if (!t) {
      showLogin("Enter an API token.");
      return;
    }
    $("login-error").hidden = true;
    connect(t);
  });

  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(STORE_KEY);
    token = null;
    $("token").value = "";
    showLogin("");
  });

  if (!hasPlotly) {
    for (const id of ["occupancy-chart", "power-chart"]) {
      $(id).innerHTML = '<div class="empty">plotly.js did not load; charts are off</div>';
    }
  }

  // ?token=… pre-fills the box (and signs in); drop it from the address bar
  const params = new URLSearchParams(window.location.search);
  const fromUrl = params.get("token");
  if (fromUrl) {
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : ""));
    $("token").value = fromUrl;
    connect(fromUrl);
  } else {
    const saved = sessionStorage.getItem(STORE_KEY);
    if (saved) {
      $("token").value = saved;
      connect(saved);
    } else {
      showLogin("");
    }
  }
})();
