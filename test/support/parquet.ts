/** Reads Parquet bytes with hyparquet, an independent implementation, into plain row objects. */
import { parquetReadObjects } from "hyparquet"
import { compressors } from "hyparquet-compressors"

export const readParquet = async (bytes: Uint8Array): Promise<Array<Record<string, unknown>>> => {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  return parquetReadObjects({ file: buffer, compressors })
}
