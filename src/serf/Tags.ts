/**
 * serf's node metadata format: tags travel in memberlist's
 * `Meta` as the magic byte 0xff followed by a msgpack map of strings. Meta
 * without the magic byte (serf protocol < 3, or a plain memberlist node) is
 * read the way serf reads it: the whole meta is the `role` tag.
 */
import { decodeUtf8, MsgpackReader } from "../codec/msgpack/Reader.ts"
import { MsgpackWriter, utf8Bytes } from "../codec/msgpack/Writer.ts"

/** First byte of tag-encoded meta. */
export const TAGS_MAGIC = 0xff

const compareBytes = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/**
 * Encodes tags as serf meta: 0xff + msgpack map. Keys are sorted by their
 * bytes so the same tags always give the same meta (Go's own order is random,
 * and memberlist treats any meta change as an update). Keep it ≤ 512 bytes.
 */
export const encodeTags = (tags: Readonly<Record<string, string>>): Uint8Array => {
  const entries = Object.keys(tags)
    .map((k) => ({ key: utf8Bytes(k), value: tags[k]! }))
    .sort((a, b) => compareBytes(a.key, b.key))
  const w = new MsgpackWriter(64)
  w.byte(TAGS_MAGIC)
  w.mapHeader(entries.length)
  for (const e of entries) {
    w.rawHeader(e.key.length)
    w.raw(e.key)
    w.str(e.value)
  }
  return w.toBytes()
}

const setTag = (out: Record<string, string>, key: string, value: string): void => {
  // A key named "__proto__" must become a plain property, not the prototype.
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Decodes serf meta into tags with serf's rules: empty meta or no magic byte
 * → `{ role: meta as text }`; otherwise the string map, keeping whatever
 * decoded before an error (serf logs and keeps the partial map).
 */
export const decodeTags = (meta: Uint8Array | null): Record<string, string> => {
  const out: Record<string, string> = {}
  if (meta === null || meta.length === 0 || meta[0] !== TAGS_MAGIC) {
    setTag(out, "role", meta === null ? "" : decodeUtf8(meta, 0, meta.length))
    return out
  }
  const r = new MsgpackReader(meta, 1)
  const n = r.readMapHeader()
  for (let i = 0; i < n && r.ok; i++) {
    const key = r.readString()
    if (!r.ok) break
    const value = r.readString()
    if (!r.ok) break
    setTag(out, key, value)
  }
  return out
}

/**
 * Like `decodeTags`, but all or nothing: a tag map that does not decode to its end is
 * an error (the reason), not a partial map. For typed metadata, where a half-read map
 * must not pass for a whole one.
 */
export const decodeTagsStrict = (meta: Uint8Array | null): Record<string, string> | string => {
  if (meta === null || meta.length === 0 || meta[0] !== TAGS_MAGIC) return decodeTags(meta)
  const out: Record<string, string> = {}
  const r = new MsgpackReader(meta, 1)
  const n = r.readMapHeader()
  for (let i = 0; i < n && r.ok; i++) {
    const key = r.readString()
    const value = r.readString()
    if (r.ok) setTag(out, key, value)
  }
  if (!r.ok) return `${r.failure}: ${r.detail}`
  if (r.pos !== meta.length) return `${meta.length - r.pos} trailing bytes after the tags`
  return out
}
