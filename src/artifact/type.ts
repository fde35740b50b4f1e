/**
 * An artifact type: a name, a deterministic byte encoding and a validating decoding. Stored bytes are
 * self-describing (Parquet, safetensors, JSON with an "artifact" field) so a blob can be shown without its record.
 */
export interface ArtifactType<A> {
  readonly name: string
  /** Same value, same bytes: the content hash depends on it. */
  encode(value: A): Uint8Array
  /** Throws an Error whose message says what is wrong with the bytes. */
  decode(bytes: Uint8Array): A
  /** Versions of the packages that produce these bytes: they belong in the key of every stage writing them. */
  readonly env: Readonly<Record<string, string>>
}

export type ValueOf<T> = T extends ArtifactType<infer A> ? A : never

export type ArtifactTypes = Readonly<Record<string, ArtifactType<unknown>>>

export type Values<T extends ArtifactTypes> = { readonly [K in keyof T]: ValueOf<T[K]> }
