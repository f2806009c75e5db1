/**
 * One stream multiplexed on a connection, as the engine sees it: a
 * `StreamConnection`. Reads take chunks the peer sent, in order; each chunk
 * read is credited back to the peer, so at most `window` bytes of a stream
 * are ever buffered here. Writes are split into chunks and wait for credit,
 * so a peer that stops reading slows its writer instead of filling memory.
 */
import { Effect } from "effect"
import type { StreamConnection } from "../Transport.ts"
import { TransportError } from "../Transport.ts"
import { encodeClose, encodeCredit, encodeData } from "./Frame.ts"
import { DATA_CHUNK } from "./Limits.ts"

/** What a stream needs from its connection. */
export interface StreamHost {
  /** Queues a frame on the connection; false when the connection is gone. */
  send(frame: Uint8Array): boolean
  /** The stream is finished on this side: forget it. */
  release(id: number): void
}

const closed = (remote: string, message: string) => new TransportError({ reason: "Closed", address: remote, message })

export class MuxStream implements StreamConnection {
  readonly id: number
  readonly remote: string
  private readonly host: StreamHost
  private readonly window: number
  private inbox: Array<Uint8Array> = []
  private inboxBytes = 0
  private reader: ((chunk: Uint8Array | TransportError) => void) | undefined
  private writer: (() => void) | undefined
  /** Bytes we may still send before the peer grants more. */
  private credit: number
  /** Bytes read since we last granted credit. */
  private consumed = 0
  /** Set once neither side may send any more; reads drain the inbox, then fail with it. */
  private ended: TransportError | undefined
  /** Closed by our consumer: reads and writes fail at once. */
  private done = false

  constructor(id: number, remote: string, host: StreamHost, window: number) {
    this.id = id
    this.remote = remote
    this.host = host
    this.window = window
    this.credit = window
  }

  readonly read: Effect.Effect<Uint8Array, TransportError> = Effect.callback((resume) => {
    const next = this.next()
    if (next !== undefined) return resume(next instanceof TransportError ? Effect.fail(next) : Effect.succeed(next))
    this.reader = (chunk) => resume(chunk instanceof TransportError ? Effect.fail(chunk) : Effect.succeed(chunk))
    return Effect.sync(() => void (this.reader = undefined))
  })

  write(bytes: Uint8Array): Effect.Effect<void, TransportError> {
    return Effect.suspend(() => this.writeFrom(bytes, 0))
  }

  readonly close: Effect.Effect<void> = Effect.sync(() => {
    if (this.done) return
    this.done = true
    // the peer already ended the stream: nothing to tell it
    if (this.ended === undefined) this.host.send(encodeClose(this.id))
    this.end(closed(this.remote, "stream closed"))
    this.host.release(this.id)
  })

  /** Data from the peer. False when it exceeds the credit we granted (a protocol violation). */
  receive(bytes: Uint8Array): boolean {
    if (this.done || this.ended !== undefined) return true
    if (this.inboxBytes + bytes.length > this.window) return false
    if (bytes.length === 0) return true
    const reader = this.reader
    if (reader !== undefined) {
      this.reader = undefined
      this.consume(bytes.length)
      reader(bytes)
      return true
    }
    this.inbox.push(bytes)
    this.inboxBytes += bytes.length
    return true
  }

  /** The peer granted `bytes` more. */
  grant(bytes: number): void {
    this.credit += bytes
    const writer = this.writer
    if (writer !== undefined) {
      this.writer = undefined
      writer()
    }
  }

  /** The stream ended from the other side or with its connection: unread data stays readable, then `error`. */
  end(error: TransportError): void {
    if (this.ended === undefined) this.ended = error
    const reader = this.reader
    if (reader !== undefined && this.inbox.length === 0) {
      this.reader = undefined
      reader(error)
    }
    const writer = this.writer
    if (writer !== undefined) {
      this.writer = undefined
      writer()
    }
  }

  private next(): Uint8Array | TransportError | undefined {
    if (this.done) return closed(this.remote, "stream closed")
    const chunk = this.inbox.shift()
    if (chunk !== undefined) {
      this.inboxBytes -= chunk.length
      this.consume(chunk.length)
      return chunk
    }
    return this.ended
  }

  /** Grants credit back once half the window has been read, so the sender rarely waits. */
  private consume(bytes: number): void {
    this.consumed += bytes
    if (this.consumed >= this.window / 2 && this.ended === undefined) {
      this.host.send(encodeCredit(this.id, this.consumed))
      this.consumed = 0
    }
  }

  private writeFrom(bytes: Uint8Array, at: number): Effect.Effect<void, TransportError> {
    while (at < bytes.length) {
      if (this.done) return Effect.fail(closed(this.remote, "stream closed"))
      if (this.ended !== undefined) return Effect.fail(this.ended)
      if (this.credit === 0) {
        const from = at
        return Effect.flatMap(this.awaitCredit, () => this.writeFrom(bytes, from))
      }
      const size = Math.min(DATA_CHUNK, this.credit, bytes.length - at)
      if (!this.host.send(encodeData(this.id, bytes.subarray(at, at + size)))) {
        return Effect.fail(closed(this.remote, "connection closed"))
      }
      this.credit -= size
      at += size
    }
    if (this.done) return Effect.fail(closed(this.remote, "stream closed"))
    return this.ended === undefined ? Effect.void : Effect.fail(this.ended)
  }

  private readonly awaitCredit: Effect.Effect<void> = Effect.callback((resume) => {
    this.writer = () => resume(Effect.void)
    return Effect.sync(() => void (this.writer = undefined))
  })
}
