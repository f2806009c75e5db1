/**
 * The label header of newer memberlist (≥ 0.3.0):
 * `0xf4 | n (1..255) | label[n]`, in front of a whole datagram or as the first
 * bytes a dialer writes on a stream. A label keeps clusters sharing a network
 * apart; with encryption it is also authenticated (it joins the AAD).
 * memberlist 0.2.2 (Debian serf) does not understand it: configure a label
 * only when every peer does.
 */
import { utf8Bytes } from "../codec/msgpack/Writer.ts"

/** Type byte of the label header. */
export const HAS_LABEL_MSG = 0xf4
/** Longest label in bytes (its length is one byte, and 0 is invalid). */
export const MAX_LABEL_LENGTH = 255

/** The label as bytes, or undefined when it is too long to send. An empty label means "no label". */
export const labelBytes = (label: string): Uint8Array | undefined => {
  const bytes = utf8Bytes(label)
  return bytes.length <= MAX_LABEL_LENGTH ? bytes : undefined
}

/** Size of the header for a label (0 when there is no label). */
export const labelHeaderLength = (label: Uint8Array): number => (label.length === 0 ? 0 : 2 + label.length)

/** Writes the header at `offset` (nothing for an empty label); returns the offset after it. */
export const writeLabelHeader = (out: Uint8Array, offset: number, label: Uint8Array): number => {
  if (label.length === 0) return offset
  out[offset] = HAS_LABEL_MSG
  out[offset + 1] = label.length
  out.set(label, offset + 2)
  return offset + 2 + label.length
}

/**
 * Reads an optional label header at the start of `buf` and checks it against
 * the configured label (absent = empty, as memberlist compares them).
 * Returns the offset of what follows, or why the bytes are refused:
 * `NeedMore` (header cut short: wait on a stream, drop a packet),
 * `Empty` (n = 0, invalid), `Mismatch`.
 */
export const checkLabelHeader = (
  buf: Uint8Array,
  expected: Uint8Array
): number | "NeedMore" | "Empty" | "Mismatch" => {
  if (buf.length === 0 || buf[0] !== HAS_LABEL_MSG) return expected.length === 0 ? 0 : "Mismatch"
  if (buf.length < 2) return "NeedMore"
  const n = buf[1]!
  if (n === 0) return "Empty"
  if (buf.length < 2 + n) return "NeedMore"
  if (n !== expected.length) return "Mismatch"
  for (let i = 0; i < n; i++) if (buf[2 + i] !== expected[i]) return "Mismatch"
  return 2 + n
}
