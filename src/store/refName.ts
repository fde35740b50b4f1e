/** What a ref may be called, in every store: slash-separated segments of safe characters, none of them `.` or `..`. */
const REF_NAME = /^[A-Za-z0-9._=+-]+(?:\/[A-Za-z0-9._=+-]+)*$/

export const isRefName = (name: string): boolean =>
  REF_NAME.test(name) && !name.split("/").some((s) => s === "." || s === "..")
