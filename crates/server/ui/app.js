// stormwatch web UI: draws the charts whose data the server put in JSON blocks, and nothing
// else; every page works without this script except the charts. Chart.js is served by the
// same binary (/ui/assets/chart.umd.js); the Content-Security-Policy allows no other script.
"use strict";

function data(canvas) {
  const block = document.getElementById(canvas.dataset.source);
  return block ? JSON.parse(block.textContent) : null;
}

function noChartLibrary(canvas) {
  const p = document.createElement("p");
  p.className = "note";
  p.textContent = "Charts need the chart library, which this build does not include (npm ci in crates/server/ui, then rebuild).";
  canvas.replaceWith(p);
}

function utc(ms) {
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}

function timeline(canvas) {
  const d = data(canvas);
  if (!d) return;
  const rows = d.labels.length;
  canvas.parentElement.style.height = Math.max(160, 70 + 26 * rows) + "px";
  new Chart(canvas, {
    type: "scatter",
    data: {
      datasets: [
        { label: "Other reads", data: d.normal, backgroundColor: "rgba(84, 110, 122, 0.55)", pointRadius: 3 },
        { label: "This incident", data: d.incident, backgroundColor: "#b71c1c", borderColor: "#4a0000",
          pointRadius: 6, pointStyle: "rectRot" },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { type: "linear", title: { display: true, text: "time (UTC)" }, ticks: { callback: (v) => utc(v), maxRotation: 0 } },
        y: {
          min: -1, max: rows, reverse: true,
          ticks: { stepSize: 1, autoSkip: false, callback: (v) => (Number.isInteger(v) ? d.labels[v] ?? "" : "") },
        },
      },
      plugins: {
        tooltip: { callbacks: { label: (c) => `${utc(c.raw.x)} · ${c.raw.mailbox} · ${d.labels[c.raw.y]}` } },
      },
    },
  });
}

function bars(canvas) {
  const d = data(canvas);
  if (!d) return;
  canvas.parentElement.style.height = "220px";
  new Chart(canvas, {
    type: "bar",
    data: { labels: d.labels, datasets: [{ label: "detections", data: d.values, backgroundColor: "#1565c0" }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } } },
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const canvases = document.querySelectorAll("canvas[data-source]");
  for (const c of canvases) {
    if (typeof window.Chart === "undefined") { noChartLibrary(c); continue; }
    if (c.classList.contains("chart-timeline")) timeline(c);
    if (c.classList.contains("chart-bars")) bars(c);
  }
});
