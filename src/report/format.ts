/** Text for the report page: HTML escaping, numbers and byte sizes as shown, and ids made from names. */

export const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === "\"" ? "&quot;" : "&#39;")
  )

/** A number in about four significant figures: fixed point from 0.01 up, exponent notation below. */
export const fmt = (x: number): string => {
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  return a >= 1000
    ? x.toFixed(0)
    : a >= 100
    ? x.toFixed(1)
    : a >= 10
    ? x.toFixed(2)
    : a >= 0.01 || a === 0
    ? x.toFixed(3)
    : x.toExponential(2)
}

/** A byte count in binary units: "512 B", "1.5 KiB", "3.2 MiB". */
export const fmtBytes = (n: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`
}

/** A name as an id fragment: lower case, runs of other characters as one "-" ("x" for nothing left). */
export const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9=.-]+/g, "-").replace(/^-+|-+$/g, "") || "x"
