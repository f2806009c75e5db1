/**
 * The first message of a channel, each way: a reliable application message
 * whose payload is `[0xEC][channel length: u8][channel UTF-8][name length: u8][name UTF-8]`.
 * The opener names the channel and itself; the acceptor answers with the same
 * channel and its own name. Like the broadcast envelope's 0xEB, the marker lies
 * outside serf's message types, so a serf agent ignores it.
 */
const MARKER = 0xec
const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

export interface Hello {
  readonly channel: string
  /** The member name the sender announces. */
  readonly name: string
}

/** The longest channel or member name a hello carries, in UTF-8 bytes. */
export const MAX_HELLO_FIELD = 255

/** Encodes a hello; undefined when a field does not fit in 255 bytes. */
export const encodeHello = (hello: Hello): Uint8Array | undefined => {
  const channel = encoder.encode(hello.channel)
  const name = encoder.encode(hello.name)
  if (channel.length > MAX_HELLO_FIELD || name.length > MAX_HELLO_FIELD) return undefined
  const out = new Uint8Array(3 + channel.length + name.length)
  out[0] = MARKER
  out[1] = channel.length
  out.set(channel, 2)
  out[2 + channel.length] = name.length
  out.set(name, 3 + channel.length)
  return out
}

/** True when `payload` is meant as a hello (well formed or not). */
export const isHello = (payload: Uint8Array): boolean => payload.length > 0 && payload[0] === MARKER

/** The hello in `payload`, or undefined when it is not a well-formed one. */
export const decodeHello = (payload: Uint8Array): Hello | undefined => {
  if (payload.length < 3 || payload[0] !== MARKER) return undefined
  const channelEnd = 2 + payload[1]!
  if (payload.length < channelEnd + 1) return undefined
  const nameEnd = channelEnd + 1 + payload[channelEnd]!
  if (payload.length !== nameEnd) return undefined
  try {
    const channel = decoder.decode(payload.subarray(2, channelEnd))
    const name = decoder.decode(payload.subarray(channelEnd + 1, nameEnd))
    return channel === "" ? undefined : { channel, name }
  } catch {
    return undefined
  }
}
