// Human-readable sizes, speeds and durations.

const UNITS = ["B", "KB", "MB", "GB", "TB"];

export function bytes(n: number): string {
  let i = 0;
  while (n >= 1000 && i < UNITS.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${UNITS[i]}`;
}

export const speed = (bytesPerSecond: number) => `${bytes(bytesPerSecond)}/s`;

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "-42 %" for an output smaller than its input, "+10 %" for a larger one. */
export function change(before: number, after: number): string {
  if (!before) return "";
  const pct = Math.round((after / before - 1) * 100);
  return `${pct > 0 ? "+" : ""}${pct} %`;
}

export const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "");
