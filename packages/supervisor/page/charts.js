// Two small canvas charts, drawn by hand (no chart library needed for bars and lanes).

const COLORS = { running: "#3b82f6", succeeded: "#22a35a", failed: "#d93f3f", cancelled: "#8a8f98", queued: "#c9ced6" };

/** Sizes the canvas's pixels to its CSS size (sharp on high-DPI screens); returns its context and CSS size. */
function prepare(canvas, cssHeight) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.parentElement.clientWidth || 600;
  canvas.style.height = `${cssHeight}px`;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, cssHeight);
  return { context, width, height: cssHeight };
}

/** Finished jobs per bucket, as bars. */
export function drawHistory(canvas, history) {
  const { context, width, height } = prepare(canvas, 70);
  const counts = history?.counts ?? [];
  const max = Math.max(1, ...counts);
  const step = width / Math.max(1, counts.length);
  context.fillStyle = COLORS.succeeded;
  counts.forEach((count, i) => {
    const barHeight = ((height - 14) * count) / max;
    context.fillRect(i * step + 1, height - barHeight, Math.max(1, step - 2), barHeight);
  });
  context.fillStyle = "#6b7380";
  context.font = "11px system-ui, sans-serif";
  context.fillText(`max ${max} per ${Math.round((history?.bucketMs ?? 5000) / 1000)} s`, 4, 11);
}

/** The stream's window: the last 5 minutes, or less (down to one) when the jobs began more recently. */
export function streamWindow(bars, now) {
  let earliest = now;
  for (const [, start] of bars.values()) earliest = Math.min(earliest, start);
  return Math.min(5 * 60_000, Math.max(60_000, Math.ceil((now - earliest + 5000) / 15_000) * 15_000));
}

/**
 * The task stream: one lane per worker slot and node, bars from start to end (running ones to
 * now), over the last `windowMs`. A bar the run said the slot of (`bar[4]`) goes in that slot's
 * lane; bars without one (jobs the dashboard did not see start, agents that do not say) get lanes
 * of their own after those, where jobs that overlap in time on one node take separate lanes.
 * Drops bars that ended before the window from `bars`.
 */
export function drawStream(canvas, bars, now, windowMs) {
  const since = now - windowMs;
  const byHost = new Map();
  for (const [id, bar] of bars) {
    const [host, start, end] = bar;
    if (end !== null && end < since) {
      bars.delete(id);
      continue;
    }
    if (!byHost.has(host)) byHost.set(host, []);
    byHost.get(host).push(bar);
  }
  const lanes = [];
  for (const host of [...byHost.keys()].sort()) {
    const hostBars = byHost.get(host).sort((a, b) => a[1] - b[1]);
    const bySlot = new Map();
    const ends = [];
    const inferred = [];
    for (const bar of hostBars) {
      const slot = bar[4];
      if (slot !== null && slot !== undefined) {
        if (!bySlot.has(slot)) bySlot.set(slot, []);
        bySlot.get(slot).push(bar);
        continue;
      }
      const end = bar[2] ?? Infinity;
      let lane = ends.findIndex((laneEnd) => laneEnd <= bar[1]);
      if (lane < 0) {
        lane = ends.length;
        ends.push(end);
        inferred.push([]);
      } else ends[lane] = end;
      inferred[lane].push(bar);
    }
    const hostLanes = [...[...bySlot].sort((a, b) => a[0] - b[0]).map(([slot, laneBars]) => ({ slot, bars: laneBars })), ...inferred.map((laneBars) => ({ slot: undefined, bars: laneBars }))];
    hostLanes.forEach((lane, i) => lanes.push({ host, first: i === 0, ...lane }));
  }
  const shown = lanes.slice(0, 64);
  const laneHeight = shown.length > 32 ? 5 : 10;
  const labelWidth = 120;
  const { context, width, height } = prepare(canvas, Math.max(60, 20 + shown.length * (laneHeight + 2)));
  const x = (t) => labelWidth + ((width - labelWidth) * (Math.max(t, since) - since)) / windowMs;
  context.font = "11px system-ui, sans-serif";
  context.fillStyle = "#6b7380";
  const tickMs = windowMs > 150_000 ? 60_000 : 15_000;
  for (let tick = 0; tick * tickMs <= windowMs; tick++) {
    const at = x(now - tick * tickMs);
    context.fillRect(at, 0, 1, height - 14);
    const label = tick === 0 ? "now" : tickMs === 60_000 ? `-${tick}m` : `-${tick * 15}s`;
    context.fillText(label, Math.min(at - 10, width - 24), height - 2);
  }
  if (shown.length === 0) {
    context.fillText("no jobs ran in the last minutes", labelWidth + 8, 20);
    return;
  }
  shown.forEach((lane, i) => {
    const y = 4 + i * (laneHeight + 2);
    if (lane.first) {
      context.fillStyle = "#1d232a";
      context.fillText(lane.host.length > 16 ? `${lane.host.slice(0, 15)}…` : lane.host, 2, y + laneHeight);
    }
    if (lane.slot !== undefined && laneHeight >= 10) {
      context.fillStyle = "#6b7380";
      context.fillText(`#${lane.slot}`, labelWidth - 24, y + laneHeight);
    }
    for (const [, start, end, state] of lane.bars) {
      context.fillStyle = COLORS[state] ?? "#999";
      const left = x(start);
      context.fillRect(left, y, Math.max(1.5, x(end ?? now) - left), laneHeight);
    }
  });
  if (lanes.length > shown.length) {
    context.fillStyle = "#6b7380";
    context.fillText(`(${lanes.length - shown.length} more lanes not shown)`, labelWidth + 8, height - 16);
  }
}
