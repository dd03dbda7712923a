// Sensitivity (tornado) chart of the value case page. Data comes from the json_script element
// #vc-chart-data; no inline script (strict CSP).
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("vc-tornado");
    var source = document.getElementById("vc-chart-data");
    if (!holder || !source || typeof window.echarts === "undefined") return;
    var data = JSON.parse(source.textContent);
    var bars = (data.bars || []).slice().reverse(); // largest swing on top
    if (!bars.length) { holder.style.display = "none"; return; }
    var base = parseFloat(data.base);
    var labels = bars.map(function (b) { return b.label; });
    var minus = [], plus = [];
    bars.forEach(function (b) {
      var low = parseFloat(b.low) - base, high = parseFloat(b.high) - base;
      minus.push(Math.min(low, high));
      plus.push(Math.max(low, high));
    });
    var chart = window.echarts.init(holder);
    var compact = new Intl.NumberFormat(document.documentElement.lang || undefined, { notation: "compact", maximumFractionDigits: 1 });
    var fmt = function (v) { return (base + v).toLocaleString(undefined, { maximumFractionDigits: 2 }) + " " + data.currency; };
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 24, top: 32, bottom: 36, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" },
        formatter: function (items) {
          return items[0].name + "<br>" + items.map(function (i) { return i.seriesName + ": " + fmt(i.value); }).join("<br>");
        } },
      legend: { data: [data.labels.down, data.labels.up] },
      xAxis: { type: "value", name: data.labels.net + " (" + data.currency + ")", nameLocation: "middle", nameGap: 28,
        splitNumber: 4, axisLabel: { formatter: function (v) { return compact.format(base + v); } } },
      yAxis: { type: "category", data: labels, axisLabel: { width: 180, overflow: "truncate" } },
      series: [
        { name: data.labels.down, type: "bar", stack: "t", data: minus, itemStyle: { color: "#d9534f" } },
        { name: data.labels.up, type: "bar", stack: "t", data: plus, itemStyle: { color: "#3c8d5a" } }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
