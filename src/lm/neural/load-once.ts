/**
 * A value made asynchronously once per thread and then read synchronously: the model's wasm kernels, assembled by
 * wabt and compiled at first need. Not a top-level await, which the bundled CLI (one CommonJS file) cannot hold.
 */
export interface LoadOnce<A> {
  /** Makes the value (the first call; later calls get the same promise). */
  readonly load: () => Promise<void>
  /** The value, once `load` has finished; before that it throws `notLoaded`. */
  readonly get: () => A
}

export const loadOnce = <A>(make: () => Promise<A>, notLoaded: string): LoadOnce<A> => {
  let value: A | undefined
  let loading: Promise<void> | undefined
  return {
    load: () => (loading ??= make().then((v) => {
      value = v
    })),
    get: () => {
      if (value === undefined) throw new Error(notLoaded)
      return value
    }
  }
}
