/** What a node's tags say about it, for everything that groups nodes (tables, reports, diffs). */

/** The arm a node belongs to: its tags other than seed and generation ("arm=replace"), or "(all)". */
export const armOf = (tags: Readonly<Record<string, string | number>>): string =>
  Object.entries(tags).filter(([k]) => k !== "seed" && k !== "generation").map(([k, v]) => `${k}=${v}`).join(" ") ||
  "(all)"
