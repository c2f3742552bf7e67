/* The Stats charts: each chart's series come as JSON (json_script) and plotly draws them. Times are UTC labels;
   money comes as exact decimal strings, which plotly reads as numbers. */
(function () {
  "use strict";
  const PERIOD = { hour: 3600000, day: 86400000, month: "M1" };
  const COLORS = ["#1f5fbf", "#1e8e4e", "#c2382b", "#a86b00", "#6f42c1", "#0f8a8a", "#d6336c", "#5d6b7a"];

  // The label of the bucket after `label` ("2026-12-06 10:00", "2026-12-06" or "2026-12"), in UTC.
  function nextBucket(label, grain) {
    const [date, time] = label.split(" ");
    const [year, month, day] = date.split("-").map(Number);
    const pad = function (number) { return String(number).padStart(2, "0"); };
    if (grain === "month") {
      const next = new Date(Date.UTC(year, month, 1));
      return next.getUTCFullYear() + "-" + pad(next.getUTCMonth() + 1);
    }
    const hour = time ? Number(time.split(":")[0]) : 0;
    const next = new Date(Date.UTC(year, month - 1, day, hour) + (grain === "hour" ? 3600000 : 86400000));
    const text = next.getUTCFullYear() + "-" + pad(next.getUTCMonth() + 1) + "-" + pad(next.getUTCDate());
    return grain === "hour" ? text + " " + pad(next.getUTCHours()) + ":00" : text;
  }

  // A line breaks where buckets had no calls: a null point in the first missing bucket, not a line across it.
  function withGaps(series, grain) {
    const x = [], y = [];
    series.x.forEach(function (label, index) {
      if (index > 0 && nextBucket(series.x[index - 1], grain) !== label) {
        x.push(nextBucket(series.x[index - 1], grain));
        y.push(null);
      }
      x.push(label);
      y.push(series.y[index]);
    });
    return { x: x, y: y };
  }

  function traceOf(chart, series, index, period) {
    const color = COLORS[index % COLORS.length];
    if (chart.kind === "pie") {
      return { type: "pie", name: series.name, labels: series.labels, values: series.values, hole: 0.45,
               sort: false, textinfo: "label+percent", marker: { colors: COLORS },
               hovertemplate: "SIP %{label}: %{value} calls (%{percent})<extra></extra>" };
    }
    const common = { name: series.name, x: series.x, y: series.y, xperiod: PERIOD[period.grain],
                     xperiodalignment: "middle", hovertemplate: "%{y}<extra>" + series.name + "</extra>" };
    if (chart.kind === "bar") {
      return Object.assign(common, { type: "bar", marker: { color: color } });
    }
    const gapped = withGaps(series, period.grain);
    return Object.assign(common, { x: gapped.x, y: gapped.y, type: "scatter", mode: "lines+markers", connectgaps: false,
      line: { color: color, width: series.bold ? 3 : 1.6, dash: series.dash ? "dot" : "solid" },
      marker: { size: series.bold ? 8 : 6 } });
  }

  function layoutOf(chart, period) {
    const layout = {
      height: chart.kind === "pie" ? 280 : 260, margin: { l: 56, r: 12, t: 8, b: 36 },
      font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif", size: 12, color: "#1d2733" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", showlegend: chart.traces.length > 1,
      legend: { orientation: "h", y: -0.2, x: 0, traceorder: "normal" }, hovermode: chart.kind === "pie" ? "closest" : "x unified",
    };
    if (chart.kind === "pie") {
      layout.margin = { l: 8, r: 8, t: 8, b: 8 };
      layout.legend = { orientation: "v", x: 1, y: 0.5 };
      layout.showlegend = true;
      return layout;
    }
    layout.barmode = chart.stacked ? "stack" : "group";
    layout.bargap = 0.15;
    layout.xaxis = { type: "date", range: [period.start, period.end], gridcolor: "#eef1f5", linecolor: "#c6cfd9",
                     hoverformat: period.grain === "hour" ? "%Y-%m-%d %H:%M UTC" : (period.grain === "day" ? "%Y-%m-%d" : "%Y-%m") };
    layout.yaxis = { type: "linear", rangemode: "tozero", gridcolor: "#eef1f5", zerolinecolor: "#c6cfd9",
                     title: { text: chart.unit, font: { size: 11, color: "#6b7785" } }, automargin: true };
    if (chart.unit === "%") Object.assign(layout.yaxis, { range: [0, 104], dtick: 20 });  // 100 % stays in view
    if (layout.showlegend) layout.margin.b = 56;
    return layout;
  }

  function draw() {
    const periodNode = document.getElementById("stats-period");
    if (!periodNode) return;
    if (!window.Plotly) {  // plotly.js (4.8 MB) loads async: the page is usable while it parses, charts follow
      document.getElementById("plotly-js").addEventListener("load", draw, { once: true });
      return;
    }
    const period = JSON.parse(periodNode.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (node) {
      const chart = JSON.parse(document.getElementById(node.dataset.chart).textContent);
      const traces = chart.traces.map(function (series, index) { return traceOf(chart, series, index, period); });
      window.Plotly.newPlot(node, traces, layoutOf(chart, period),
        { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"] })
        .then(function () { node.dataset.drawn = "true"; });
    });
  }

  function customFields() {
    const preset = document.querySelector("[data-stats-preset]");
    if (!preset) return;
    const show = function () {
      document.querySelectorAll("[data-stats-custom]").forEach(function (label) {
        label.hidden = preset.value !== "custom";
      });
    };
    preset.addEventListener("change", show);
    show();
  }

  document.addEventListener("DOMContentLoaded", function () { customFields(); draw(); });
})();
