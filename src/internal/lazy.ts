/**
 * A value loaded on first use (an SDK module, say): the first call starts `load`, later calls get
 * the same promise; a load that fails is not remembered, so the next call tries again.
 *
 * @internal
 */
export const lazy = <A>(load: () => Promise<A>): () => Promise<A> => {
  let loading: Promise<A> | undefined
  return () =>
    loading ??= load().catch((cause: unknown) => {
      loading = undefined
      throw cause
    })
}
