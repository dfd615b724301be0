/** Markdown and number formatting of the report. */
import type { Summary } from "./measurement.js";

/** A measurement (ms, jobs/s, …) as `median (min – max)`. */
export function summaryText(value: Summary): string {
  return value.min === value.max ? number(value.median) : `${number(value.median)} (${number(value.min)} – ${number(value.max)})`;
}

/** Three significant digits (whole numbers from 100 on), no exponent, no trailing zeros. */
export function number(value: number): string {
  if (!Number.isFinite(value)) return "—";
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return String(Number(value.toPrecision(3)));
}

/** `0.004` → `0.4 %`. */
export function percent(fraction: number): string {
  return `${number(fraction * 100)} %`;
}

/** A Markdown table. */
export function table(headers: string[], rows: string[][]): string[] {
  const escape = (cell: string) => cell.replaceAll("|", "\\|");
  return [`| ${headers.map(escape).join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`, ...rows.map((row) => `| ${row.map(escape).join(" | ")} |`)];
}
