// 银晖 dashboards: draws the charts from the figures in #dashboard-charts with the vendored
// ECharts. The tables under each chart hold the same figures, so the page is complete without
// JavaScript; the charts only appear once drawn.
(function () {
  "use strict";
  var TEXT = "#1b1b1b";
  // Bar colours against white: 7.6:1 and 8.0:1; the series also differ by pattern (decal) and
  // every bar carries its number, so colour never carries meaning alone.
  var COLOURS = ["#a8071a", "#0b4f96", "#1e6b34", "#5a2d82"];

  function fontSize() {
    return document.documentElement.classList.contains("elder") ? 22 : 16;
  }

  function option(chart) {
    var size = fontSize();
    var unit = chart.unit || "";
    function withUnit(value) {
      return value === null || value === undefined ? "" : value + unit;
    }
    var horizontal = chart.kind === "bar";
    var categories = { type: "category", data: chart.categories, inverse: horizontal,
      axisLabel: { color: TEXT, fontSize: size, width: horizontal ? size * 6 : undefined,
                   overflow: horizontal ? "truncate" : undefined, interval: horizontal ? 0 : "auto",
                   rotate: horizontal ? 0 : 30, hideOverlap: !horizontal },
      axisLine: { lineStyle: { color: TEXT } }, axisTick: { lineStyle: { color: TEXT } } };
    var values = { type: "value", axisLabel: { color: TEXT, fontSize: size, formatter: withUnit }, minInterval: 1,
      splitLine: { lineStyle: { color: "#6b6b6b", type: "dashed" } } };
    return {
      animation: false,
      aria: { enabled: true, decal: { show: chart.series.length > 1 } },
      color: COLOURS,
      textStyle: { color: TEXT, fontSize: size },
      tooltip: { show: false },
      legend: { show: chart.series.length > 1, top: 0, textStyle: { color: TEXT, fontSize: size } },
      grid: { left: 8, right: size * 3, top: chart.series.length > 1 ? size * 2.5 : 8, bottom: 8, containLabel: true },
      xAxis: horizontal ? values : categories,
      yAxis: horizontal ? categories : values,
      series: chart.series.map(function (s) {
        return { name: s.name, type: "bar", data: s.data,
                 label: { show: true, position: horizontal ? "right" : "top", color: TEXT, fontSize: size,
                          formatter: function (p) { return withUnit(p.value); } } };
      })
    };
  }

  function height(chart) {
    var size = fontSize();
    if (chart.kind !== "bar") {
      return size * 18;
    }
    return Math.max(size * 8, chart.categories.length * chart.series.length * size * 1.6 + size * 5);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("dashboard-charts");
    var print = document.querySelector("[data-print]");
    if (print) {
      print.hidden = false;
      print.addEventListener("click", function () { window.print(); });
    }
    if (!data || typeof window.echarts === "undefined") {
      return;
    }
    var drawn = [];
    JSON.parse(data.textContent).forEach(function (chart) {
      var box = document.getElementById(chart.id);
      if (!box || chart.categories.length === 0) {
        return;
      }
      box.hidden = false;
      box.style.height = height(chart) + "px";
      var instance = window.echarts.init(box, null, { renderer: "canvas" });
      instance.setOption(option(chart));
      drawn.push(instance);
    });
    window.addEventListener("resize", function () {
      drawn.forEach(function (instance) { instance.resize(); });
    });
    window.addEventListener("beforeprint", function () {
      drawn.forEach(function (instance) { instance.resize(); });
    });
  });
})();
