// The dashboard's chart: detected messages by risk over the period, drawn
// with uPlot from the JSON block its figure carries (the same figures are
// in the table beside it, for reading without script). Drawn on load and
// again when htmx swaps the figures in (their refresh every minute).
(function () {
  "use strict";
  var series = [["high", "--bad"], ["medium", "--warn"], ["low", "--accent"], ["unrated", "--muted"]];

  function color(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function draw(root) {
    root.querySelectorAll("figure[data-chart]").forEach(function (fig) {
      var plot = fig.querySelector(".plot");
      if (!plot || plot.dataset.drawn || typeof uPlot === "undefined") {
        return;
      }
      var d = JSON.parse(fig.querySelector('script[type="application/json"]').textContent);
      var axis = { stroke: color("--muted"), grid: { stroke: color("--line") }, ticks: { stroke: color("--line") } };
      var opts = {
        width: Math.max(plot.clientWidth, 300),
        height: 260,
        scales: { x: { time: true } },
        axes: [axis, Object.assign({}, axis, { label: "messages" })],
        series: [{}].concat(series.map(function (s) {
          return { label: s[0], stroke: color(s[1]), width: 2, points: { show: d.t.length <= 40 } };
        }))
      };
      var data = [d.t].concat(series.map(function (s) { return d[s[0]]; }));
      var chart = new uPlot(opts, data, plot);
      plot.dataset.drawn = "1";
      new ResizeObserver(function () {
        chart.setSize({ width: Math.max(plot.clientWidth, 300), height: 260 });
      }).observe(plot);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (e) { draw(e.target); });
})();
