/**
 * Least and greatest of many numbers. `Math.max(...xs)` passes every element as an argument, which overflows the call
 * stack somewhere past ~100,000 elements (a table of every node of a large pipeline): these loop instead.
 */
export const maxOf = (xs: Iterable<number>, init = -Infinity): number => {
  let m = init
  for (const x of xs) if (x > m) m = x
  return m
}

export const minOf = (xs: Iterable<number>, init = Infinity): number => {
  let m = init
  for (const x of xs) if (x < m) m = x
  return m
}
