/* Triple Fit Canvas results: radar, gap heat-map and trend, drawn from the JSON data block. */
(function () {
  "use strict";
  function draw() {
    var node = document.getElementById("fit-chart-data");
    if (!node || !window.echarts) { return; }
    var data = JSON.parse(node.textContent);
    var L = data.labels;
    var els = data.elements;
    var names = els.map(function (e) { return e.name; });
    var radar = document.getElementById("chart-radar");
    if (radar) {
      window.echarts.init(radar).setOption({
        tooltip: {},
        legend: { data: [L.supplier, L.customer], bottom: 0 },
        radar: { indicator: els.map(function (e) { return { name: e.name, min: 0, max: 5 }; }), radius: "62%" },
        series: [{
          type: "radar",
          data: [
            { name: L.supplier, value: els.map(function (e) { return e.supplier; }) },
            { name: L.customer, value: els.map(function (e) { return e.customer; }) }
          ]
        }]
      });
    }
    var heat = document.getElementById("chart-heatmap");
    if (heat) {
      var cells = [];
      els.forEach(function (e, i) {
        if (e.gap !== null) { cells.push([i % 3, Math.floor(i / 3), Math.round(e.gap * 100) / 100]); }
      });
      window.echarts.init(heat).setOption({
        tooltip: { formatter: function (p) { return names[p.value[1] * 3 + p.value[0]] + ": " + p.value[2]; } },
        xAxis: { type: "category", data: ["1", "2", "3"], show: false },
        yAxis: { type: "category", data: data.levels, inverse: true },
        visualMap: { min: -2, max: 2, calculable: true, orient: "horizontal", left: "center", bottom: 0,
          inRange: { color: ["#2e90fa", "#f2f4f7", "#f04438"] }, text: ["+", "−"] },
        series: [{
          type: "heatmap", data: cells,
          label: { show: true, formatter: function (p) { return names[p.value[1] * 3 + p.value[0]] + "\n" + p.value[2]; } }
        }],
        grid: { left: 90, right: 10, top: 10, bottom: 60 }
      });
    }
    var trend = document.getElementById("chart-trend");
    if (trend) {
      window.echarts.init(trend).setOption({
        tooltip: { trigger: "axis" },
        legend: { data: [L.supplier, L.customer], bottom: 0 },
        xAxis: { type: "category", data: data.trend.map(function (t) { return t.name || t.date; }) },
        yAxis: { type: "value", min: 1, max: 5 },
        series: [
          { name: L.supplier, type: "line", data: data.trend.map(function (t) { return t.supplier; }) },
          { name: L.customer, type: "line", data: data.trend.map(function (t) { return t.customer; }) }
        ]
      });
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
