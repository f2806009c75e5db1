/**
 * A topic message on the wire: the payload of an application message (a
 * broadcast's or a direct one's) that says which topic it belongs to, who sent
 * it and how the value is written:
 * `[0xED][format: u8][topic length: u8][topic UTF-8][sender length: u8][sender UTF-8][value]`.
 * Like the broadcast envelope's 0xEB, the marker lies outside serf's message types.
 */
import type { ValueFormat } from "../codec/ValueCodec.ts"

const MARKER = 0xed
const FORMATS: ReadonlyArray<ValueFormat> = ["json", "msgpack"]
const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

export interface TopicFrame {
  readonly topic: string
  readonly sender: string
  readonly format: ValueFormat
  readonly value: Uint8Array
}

/** The longest topic or sender name a frame carries, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255

/** Bytes a frame adds to its value. */
export const frameOverhead = (topic: Uint8Array, sender: Uint8Array): number => 4 + topic.length + sender.length

/** UTF-8 of a name, or undefined when it is empty or too long for a frame. */
export const nameBytes = (name: string): Uint8Array | undefined => {
  const bytes = encoder.encode(name)
  return bytes.length === 0 || bytes.length > MAX_NAME_BYTES ? undefined : bytes
}

/** Writes a frame around `value`; names come from `nameBytes`. */
export const encodeFrame = (topic: Uint8Array, sender: Uint8Array, format: ValueFormat, value: Uint8Array): Uint8Array => {
  const out = new Uint8Array(frameOverhead(topic, sender) + value.length)
  out[0] = MARKER
  out[1] = FORMATS.indexOf(format)
  out[2] = topic.length
  out.set(topic, 3)
  out[3 + topic.length] = sender.length
  out.set(sender, 4 + topic.length)
  out.set(value, 4 + topic.length + sender.length)
  return out
}

/** True when `payload` is meant as a topic frame (well formed or not). */
export const isFrame = (payload: Uint8Array): boolean => payload.length > 0 && payload[0] === MARKER

/** The frame in `payload`, or undefined when its header is malformed. */
export const decodeFrame = (payload: Uint8Array): TopicFrame | undefined => {
  if (payload.length < 4 || payload[0] !== MARKER) return undefined
  const format = FORMATS[payload[1]!]
  if (format === undefined) return undefined
  const topicEnd = 3 + payload[2]!
  if (payload.length < topicEnd + 1) return undefined
  const senderEnd = topicEnd + 1 + payload[topicEnd]!
  if (payload.length < senderEnd) return undefined
  try {
    const topic = decoder.decode(payload.subarray(3, topicEnd))
    const sender = decoder.decode(payload.subarray(topicEnd + 1, senderEnd))
    if (topic === "") return undefined
    return { topic, sender, format, value: payload.subarray(senderEnd) }
  } catch {
    return undefined
  }
}
