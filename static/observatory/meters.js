// Meters rendered by the server carry their fill in data-meter-percent; the width is set
// here because the Content-Security-Policy allows no inline style attribute (docs/operations.md).
for (const fill of document.querySelectorAll("[data-meter-percent]")) {
  if (!(fill instanceof HTMLElement)) continue;
  const percent = Math.min(100, Math.max(0, Number(fill.dataset.meterPercent) || 0));
  fill.style.width = `${percent}%`;
}
