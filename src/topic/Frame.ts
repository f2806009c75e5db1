/**
 * A topic message on the wire: the payload of an application message (a
 * broadcast's or a direct one's) that says which topic it belongs to, who sent
 * it and how the value is written:
 * `[0xED][format: u8][topic length: u8][topic UTF-8][sender length: u8][sender UTF-8][value]`.
 * Like the broadcast envelope's 0xEB, the marker lies outside serf's message types.
 */
import type { ValueFormat } from "../codec/ValueCodec.ts"
import { shortString, readFields, writeFields } from "../protocol/Fields.ts"

const MARKER = 0xed
const FORMATS: ReadonlyArray<ValueFormat> = ["json", "msgpack"]

export interface TopicFrame {
  readonly topic: string
  readonly sender: string
  readonly format: ValueFormat
  readonly value: Uint8Array
}

/** UTF-8 of a name, or undefined when it is empty or too long for a frame. */
export const nameBytes = (name: string): Uint8Array | undefined => {
  const bytes = shortString(name)
  return bytes === undefined || bytes.length === 0 ? undefined : bytes
}

/** Writes a frame around `value`; names come from `nameBytes`. */
export const encodeFrame = (topic: Uint8Array, sender: Uint8Array, format: ValueFormat, value: Uint8Array): Uint8Array =>
  writeFields([MARKER, FORMATS.indexOf(format)], [topic, sender], value)

/** True when `payload` is meant as a topic frame (well formed or not). */
export const isFrame = (payload: Uint8Array): boolean => payload.length > 0 && payload[0] === MARKER

/** The frame in `payload`, or undefined when its header is malformed. */
export const decodeFrame = (payload: Uint8Array): TopicFrame | undefined => {
  const format = payload[0] === MARKER ? FORMATS[payload[1]!] : undefined
  const fields = format === undefined ? undefined : readFields(payload, 2, 2)
  if (format === undefined || fields === undefined || fields.strings[0] === "") return undefined
  return { topic: fields.strings[0]!, sender: fields.strings[1]!, format, value: payload.subarray(fields.end) }
}
