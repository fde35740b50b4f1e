/**
 * The kill -9 and flipped-byte kinds of `npm run fault` alone (see run.ts and kinds/kill9.ts): `ouro run` killed
 * with SIGKILL at seeded random moments on one store, verify clean after each, every completed run with the
 * reference manifest; then a byte flipped in blobs of the finished store, each caught by verify and repaired by the
 * next run.
 *   node --import tsx test/fault/kill9.ts                     50 kills, then a flip in every blob
 *   node --import tsx test/fault/kill9.ts --kills 3 --flips 3 (the short version `npm test` runs)
 * Prints the counts and exits non-zero on any violation.
 */
import { main, parseOptions } from "./run.ts"

process.exit(
  await main(parseOptions(process.argv.slice(2), { kinds: ["kill9", "flips"], trials: { kill9: 50, flips: Infinity } }))
)
