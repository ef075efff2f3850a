// The charts of a plan or a comparison, drawn with the locally served Apache ECharts from the page's #chart-data.
// SVG rendering, so that the charts' words are text a reader (or a test) can select.
(function () {
  "use strict";
  var data = document.getElementById("chart-data");
  if (!data || !window.echarts) return;
  var charts = JSON.parse(data.textContent);
  var PALETTE = ["#9a2a1e", "#0b5cad", "#b58900", "#2e8b57", "#6a4c93", "#d2691e", "#59636e"];
  var COLOURS = { same: "#2e8b57", only: "#9aa5b1", payer: "#9a2a1e", exclusive_shared: "#d2691e",
                  shares: "#b58900", subordination: "#6a4c93" };

  function bars(spec) {
    return {
      color: PALETTE,
      title: { text: spec.title, left: "center", textStyle: { fontSize: 15 } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 36, type: "scroll" },
      grid: { left: 12, right: 24, top: 76, bottom: 28, containLabel: true },
      xAxis: { type: "value", name: spec.unit, nameLocation: "middle", nameGap: 26, minInterval: 1 },
      yAxis: { type: "category", data: spec.categories, inverse: true, axisLabel: { width: 220, overflow: "break" } },
      series: spec.series.map(function (s) {
        return { name: s.name, type: "bar", stack: "all", data: s.data,
                 itemStyle: s.key && COLOURS[s.key] ? { color: COLOURS[s.key] } : undefined,
                 label: { show: true, formatter: function (p) { return p.value ? p.value : ""; } } };
      })
    };
  }

  function pie(spec) {
    return {
      color: PALETTE,
      title: { text: spec.title, left: "center", textStyle: { fontSize: 15 } },
      tooltip: { trigger: "item", formatter: "{b}: {c} " + spec.unit + " ({d}%)" },
      legend: { top: 36 },
      series: [{ type: "pie", radius: ["35%", "62%"], top: 56, data: spec.data,
                 label: { formatter: "{b}\n{c} " + spec.unit } }]
    };
  }

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var spec = charts[el.dataset.chart];
    if (!spec) return;
    var height = spec.categories ? Math.max(260, 90 + 42 * spec.categories.length) : 320;
    el.style.height = height + "px";
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption(spec.data ? pie(spec) : bars(spec));
    el.setAttribute("data-drawn", "");
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
