/**
 * The small frames effect-gossip puts in front of application bytes (the
 * broadcast envelope, the application header, topic frames, channel hellos)
 * share one layout: a marker and a few fixed bytes, then strings of at most
 * 255 bytes of UTF-8, each after its length in one byte, then the rest.
 */
const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/** The UTF-8 of `s`, or undefined when it does not fit a one-byte length. */
export const shortString = (s: string): Uint8Array | undefined => {
  const bytes = encoder.encode(s)
  return bytes.length > 255 ? undefined : bytes
}

/** `head` bytes, then each of `strings` after its length, then `tail`. */
export const writeFields = (
  head: ReadonlyArray<number>,
  strings: ReadonlyArray<Uint8Array>,
  tail: Uint8Array = EMPTY
): Uint8Array => {
  let size = head.length + tail.length
  for (const s of strings) size += 1 + s.length
  const out = new Uint8Array(size)
  out.set(head, 0)
  let at = head.length
  for (const s of strings) {
    out[at++] = s.length
    out.set(s, at)
    at += s.length
  }
  out.set(tail, at)
  return out
}

/**
 * The `count` strings that start at `at`, and where the rest begins; undefined when the
 * bytes end too soon or a string is not UTF-8.
 */
export const readFields = (
  bytes: Uint8Array,
  at: number,
  count: number
): { readonly strings: Array<string>; readonly end: number } | undefined => {
  const strings: Array<string> = []
  for (let i = 0; i < count; i++) {
    if (at >= bytes.length) return undefined
    const end = at + 1 + bytes[at]!
    if (end > bytes.length) return undefined
    try {
      strings.push(decoder.decode(bytes.subarray(at + 1, end)))
    } catch {
      return undefined
    }
    at = end
  }
  return { strings, end: at }
}

const EMPTY = new Uint8Array(0)
