// spincycle-jobs ui: keeps a run's page and the running page live.
//
// The page names its JSON route in <body data-live="/api/...">. Once a second
// the script reads it and writes what changed, always as text (textContent),
// never as markup: job names, errors and output stay text.
"use strict";

(function () {
  const STATES = ["PENDING", "RUNNING", "COMPLETE", "FAIL", "TIMEOUT", "STOPPED", "UNKNOWN"];
  const EVERY = 1000; // ms between two reads
  const body = document.body;
  const route = body.dataset.live;
  if (!route || !route.startsWith("/api/")) {
    return;
  }
  const note = document.getElementById("live");

  function say(text) {
    if (note) {
      note.textContent = text;
    }
  }

  function stateOf(value) {
    return STATES.includes(value) ? value : "UNKNOWN";
  }

  // A link of this server: the JSON gives paths that start with one "/".
  function safeHref(value) {
    return typeof value === "string" && /^\/[^/\\]/.test(value) ? value : "#";
  }

  function setState(span, state, text) {
    span.className = "state st-" + stateOf(state);
    span.textContent = text || state;
  }

  function keyed(selector, key) {
    const found = new Map();
    for (const el of document.querySelectorAll(selector)) {
      found.set(key(el), el);
    }
    return found;
  }

  // -- a run --
  const rows = keyed("#jobs tr[data-job]", (el) => el.dataset.job);
  const nodes = keyed("svg.graph g[data-job]", (el) => el.dataset.job);
  const counts = keyed("#summary td[data-layer]", (el) => el.dataset.layer + "\u0000" + el.dataset.state);

  function updateRun(data) {
    const run = data.run;
    for (const dd of document.querySelectorAll("#run-head [data-f]")) {
      const field = dd.dataset.f;
      if (field === "state_text") {
        const span = dd.querySelector(".state");
        if (span) {
          setState(span, run.state, run.state_text);
        }
      } else if (field in run) {
        dd.textContent = String(run[field]);
      }
    }
    for (const job of data.jobs) {
      const state = stateOf(job.state);
      const node = nodes.get(job.job_id);
      if (node) {
        node.setAttribute("class", "node st-" + state);
      }
      const row = rows.get(job.job_id);
      if (!row) {
        continue;
      }
      for (const td of row.querySelectorAll("td[data-f]")) {
        const field = td.dataset.f;
        if (field === "state") {
          const span = td.querySelector(".state");
          if (span) {
            setState(span, state);
          }
        } else if (field in job) {
          td.textContent = String(job[field]);
        }
      }
    }
    for (const layer of data.layers || []) {
      for (const state of STATES) {
        const td = counts.get(layer.layer + "\u0000" + state);
        if (td) {
          td.textContent = String(layer.counts[state]);
        }
      }
    }
    return run.live;
  }

  // -- what runs now --
  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    if (cls) {
      td.className = cls;
    }
    return td;
  }

  function linkCell(text, href) {
    const td = document.createElement("td");
    const a = document.createElement("a");
    a.href = safeHref(href);
    a.textContent = String(text);
    td.appendChild(a);
    return td;
  }

  function updateRunning(data) {
    const table = document.getElementById("running");
    const none = document.getElementById("none");
    const tbody = table ? table.querySelector("tbody") : null;
    if (!tbody) {
      return true;
    }
    const fresh = document.createDocumentFragment();
    for (const run of data.runs) {
      const jobs = run.running.length ? run.running : [null];
      for (const job of jobs) {
        const tr = document.createElement("tr");
        tr.appendChild(linkCell(run.request_id, run.url));
        const stateTd = document.createElement("td");
        const span = document.createElement("span");
        setState(span, run.state, run.state_text);
        stateTd.appendChild(span);
        tr.appendChild(stateTd);
        tr.appendChild(cell(run.driver));
        if (job) {
          tr.appendChild(linkCell(job.job_id, job.url));
          tr.appendChild(cell(job.type));
          tr.appendChild(cell(job.name));
          tr.appendChild(cell(job.tries, "num"));
          tr.appendChild(cell(job.started));
          tr.appendChild(cell(job.took, "num"));
          tr.appendChild(cell(job.status, "status"));
        } else {
          tr.appendChild(cell("-"));
          for (let i = 0; i < 6; i += 1) {
            tr.appendChild(cell(""));
          }
        }
        fresh.appendChild(tr);
      }
    }
    tbody.replaceChildren(fresh);
    table.hidden = data.runs.length === 0;
    if (none) {
      none.hidden = data.runs.length !== 0;
    }
    return true;
  }

  const update = body.dataset.page === "run" ? updateRun : updateRunning;

  async function tick() {
    let more = true;
    try {
      const response = await fetch(route, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      more = update(await response.json());
      say(more ? "live: updated " + new Date().toLocaleTimeString() : "The run has ended.");
    } catch (error) {
      say("cannot read the server (" + error.message + "): trying again");
    }
    if (more) {
      window.setTimeout(tick, EVERY);
    }
  }

  say("live");
  window.setTimeout(tick, EVERY);
})();
