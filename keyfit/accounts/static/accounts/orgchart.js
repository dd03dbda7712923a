// Draws the account's reports-to tree with ECharts; the nested list above stays as the accessible version.
document.addEventListener("DOMContentLoaded", () => {
  const holder = document.getElementById("org-tree");
  const source = document.getElementById("org-data");
  if (!holder || !source || typeof echarts === "undefined") return;
  const roots = JSON.parse(source.textContent);
  if (!roots.length) return;
  const data = roots.length === 1 ? roots[0] : { name: holder.dataset.account, children: roots };
  const countLeaves = (node) => (node.children && node.children.length ? node.children.reduce((n, c) => n + countLeaves(c), 0) : 1);
  holder.style.height = Math.max(320, countLeaves(data) * 44) + "px";
  holder.hidden = false;
  const chart = echarts.init(holder);
  chart.setOption({
    tooltip: { trigger: "item", formatter: (p) => [p.data.name, p.data.title, p.data.role].filter(Boolean).join("<br>") },
    series: [{
      type: "tree",
      data: [data],
      orient: "LR",
      top: 20, bottom: 20, left: 120, right: 200,
      symbolSize: 10,
      initialTreeDepth: -1,
      label: { position: "left", verticalAlign: "middle", align: "right", fontSize: 12, lineHeight: 16, formatter: (p) => p.data.title ? `${p.data.name}\n${p.data.title}` : p.data.name },
      leaves: { label: { position: "right", align: "left" } },
      expandAndCollapse: true,
    }],
  });
  chart.on("click", (p) => { if (p.data && p.data.url) window.location.href = p.data.url; });
  window.addEventListener("resize", () => chart.resize());
});
