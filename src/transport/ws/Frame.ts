/**
 * The frames carried in WebSocket binary messages, one frame per message. A
 * connection multiplexes memberlist datagrams and streams: datagrams travel
 * as `Packet` frames, each stream as `Open`, `Data`…, `Close`, with `Credit`
 * frames for flow control so that one slow stream never buffers without bound.
 * Integers are big-endian. Pure functions only: decoding untrusted bytes
 * returns a `FrameError`, it never throws.
 */

/** The protocol version a `Hello` carries; a peer speaking another one is refused. */
export const PROTOCOL_VERSION = 1

/** Frame type bytes. */
export const FrameType = {
  Hello: 0x01,
  Packet: 0x02,
  Open: 0x03,
  Data: 0x04,
  Credit: 0x05,
  Close: 0x06,
  Reset: 0x07,
  Ping: 0x08,
  Pong: 0x09
} as const

/** One decoded frame. */
export type Frame =
  /** First frame each way: who is speaking (its advertised IP and port) and which version. */
  | { readonly _tag: "Hello"; readonly version: number; readonly addr: Uint8Array; readonly port: number }
  /** One memberlist datagram. */
  | { readonly _tag: "Packet"; readonly bytes: Uint8Array }
  /** The dialing side opens stream `id` (ids only grow). */
  | { readonly _tag: "Open"; readonly id: number }
  | { readonly _tag: "Data"; readonly id: number; readonly bytes: Uint8Array }
  /** The receiver consumed `bytes` of stream `id`: the sender may send that much more. */
  | { readonly _tag: "Credit"; readonly id: number; readonly bytes: number }
  /** The sender is done with stream `id`: it writes and reads no more. */
  | { readonly _tag: "Close"; readonly id: number }
  /** Stream `id` was refused or aborted. */
  | { readonly _tag: "Reset"; readonly id: number }
  | { readonly _tag: "Ping"; readonly nonce: number }
  | { readonly _tag: "Pong"; readonly nonce: number }

/** Why bytes are not a frame. */
export interface FrameError {
  readonly _tag: "FrameError"
  readonly message: string
}

const frameError = (message: string): FrameError => ({ _tag: "FrameError", message })

const withId = (type: number, id: number, extra: number): Uint8Array => {
  const out = new Uint8Array(5 + extra)
  out[0] = type
  new DataView(out.buffer).setUint32(1, id)
  return out
}

/** `Hello` with this node's advertised IP bytes (4 or 16) and port. */
export const encodeHello = (addr: Uint8Array, port: number): Uint8Array => {
  const out = new Uint8Array(5 + addr.length)
  out[0] = FrameType.Hello
  out[1] = PROTOCOL_VERSION
  out[2] = port >> 8
  out[3] = port & 0xff
  out[4] = addr.length
  out.set(addr, 5)
  return out
}

export const encodePacket = (bytes: Uint8Array): Uint8Array => {
  const out = new Uint8Array(1 + bytes.length)
  out[0] = FrameType.Packet
  out.set(bytes, 1)
  return out
}

export const encodeOpen = (id: number): Uint8Array => withId(FrameType.Open, id, 0)

export const encodeData = (id: number, bytes: Uint8Array): Uint8Array => {
  const out = withId(FrameType.Data, id, bytes.length)
  out.set(bytes, 5)
  return out
}

export const encodeCredit = (id: number, bytes: number): Uint8Array => {
  const out = withId(FrameType.Credit, id, 4)
  new DataView(out.buffer).setUint32(5, bytes)
  return out
}

export const encodeClose = (id: number): Uint8Array => withId(FrameType.Close, id, 0)
export const encodeReset = (id: number): Uint8Array => withId(FrameType.Reset, id, 0)
export const encodePing = (nonce: number): Uint8Array => withId(FrameType.Ping, nonce, 0)
export const encodePong = (nonce: number): Uint8Array => withId(FrameType.Pong, nonce, 0)

/** Decodes one frame; anything malformed is a `FrameError` naming what is wrong. */
export const decodeFrame = (bytes: Uint8Array): Frame | FrameError => {
  if (bytes.length === 0) return frameError("empty frame")
  const type = bytes[0]!
  if (type === FrameType.Packet) return { _tag: "Packet", bytes: bytes.subarray(1) }
  if (type === FrameType.Hello) {
    if (bytes.length < 5) return frameError("truncated hello")
    const size = bytes[4]!
    if (size !== 4 && size !== 16) return frameError(`hello address of ${size} bytes`)
    if (bytes.length !== 5 + size) return frameError("hello of the wrong length")
    return { _tag: "Hello", version: bytes[1]!, port: (bytes[2]! << 8) | bytes[3]!, addr: bytes.slice(5) }
  }
  if (type < FrameType.Open || type > FrameType.Pong) return frameError(`unknown frame type ${type}`)
  if (bytes.length < 5) return frameError("truncated frame")
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const id = view.getUint32(1)
  switch (type) {
    case FrameType.Data:
      return { _tag: "Data", id, bytes: bytes.subarray(5) }
    case FrameType.Credit:
      if (bytes.length !== 9) return frameError("credit of the wrong length")
      return { _tag: "Credit", id, bytes: view.getUint32(5) }
    default:
      if (bytes.length !== 5) return frameError("control frame of the wrong length")
      switch (type) {
        case FrameType.Open:
          return { _tag: "Open", id }
        case FrameType.Close:
          return { _tag: "Close", id }
        case FrameType.Reset:
          return { _tag: "Reset", id }
        case FrameType.Ping:
          return { _tag: "Ping", nonce: id }
        default:
          return { _tag: "Pong", nonce: id }
      }
  }
}
