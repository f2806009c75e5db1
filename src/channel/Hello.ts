/**
 * The first message of a channel, each way: a reliable application message
 * whose payload is `[0xEC][channel length: u8][channel UTF-8][name length: u8][name UTF-8]`.
 * The opener names the channel and itself; the acceptor answers with the same
 * channel and its own name. Like the broadcast envelope's 0xEB, the marker lies
 * outside serf's message types, so a serf agent ignores it.
 */
import { readFields, shortString, writeFields } from "../protocol/Fields.ts"

const MARKER = 0xec

export interface Hello {
  readonly channel: string
  /** The member name the sender announces. */
  readonly name: string
}

/** The longest channel or member name a hello carries, in UTF-8 bytes. */
export const MAX_HELLO_FIELD = 255

/** Encodes a hello; undefined when a field does not fit in 255 bytes. */
export const encodeHello = (hello: Hello): Uint8Array | undefined => {
  const channel = shortString(hello.channel)
  const name = shortString(hello.name)
  return channel === undefined || name === undefined ? undefined : writeFields([MARKER], [channel, name])
}

/** True when `payload` is meant as a hello (well formed or not). */
export const isHello = (payload: Uint8Array): boolean => payload.length > 0 && payload[0] === MARKER

/** The hello in `payload`, or undefined when it is not a well-formed one. */
export const decodeHello = (payload: Uint8Array): Hello | undefined => {
  if (payload[0] !== MARKER) return undefined
  const fields = readFields(payload, 1, 2)
  if (fields === undefined || fields.end !== payload.length || fields.strings[0] === "") return undefined
  return { channel: fields.strings[0]!, name: fields.strings[1]! }
}
