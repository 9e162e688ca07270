// The usage chart: requests a day by key source (yours, pooled) and the day's cost, drawn with
// uPlot (vendored in assets/vendor, MIT) from /dashboard/api/tenants/{tenant}/usage.
"use strict";
(async function () {
  const box = document.getElementById("chart");
  if (!box) return;
  const answer = await fetch(box.dataset.src, { credentials: "same-origin" });
  if (!answer.ok) {
    box.textContent = "Usage could not be loaded (" + answer.status + ").";
    return;
  }
  const u = await answer.json();
  const times = u.days.map((d) => Date.parse(d + "T00:00:00Z") / 1000);
  const opts = {
    title: "Requests a day",
    width: Math.min(960, box.clientWidth || 960),
    height: 320,
    scales: { cost: {} },
    series: [
      {},
      { label: "yours", stroke: "#2457c5", width: 2 },
      { label: "pooled", stroke: "#b3261e", width: 2 },
      { label: "cost (USD)", stroke: "#2e7d32", dash: [6, 4], scale: "cost", value: (_, v) => v == null ? "" : "$" + v.toFixed(4) },
    ],
    axes: [{}, { label: "requests" }, { side: 1, scale: "cost", label: "USD", grid: { show: false }, size: 70, values: (_, vals) => vals.map((v) => "$" + Number(v.toPrecision(2))) }],
  };
  new uPlot(opts, [times, u.yours, u.pooled, u.cost_usd], box);
  box.dataset.drawn = "yes";
})();
