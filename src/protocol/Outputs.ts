/**
 * What the protocol core asks its shell to do. The core decides; the shell
 * carries these out (sockets, timers, streams, publishing).
 */
import type { MemberEvent, MemberRefused } from "../MemberEvent.ts"
import type { Timer } from "./Timer.ts"

/** Send one datagram made of these encoded parts (one part bare, several as a compound). */
export interface SendPacket {
  readonly _tag: "SendPacket"
  readonly to: string
  readonly parts: ReadonlyArray<Uint8Array>
  readonly checksum: boolean
}

/** Hand `timer` back (through `NodeCore.timer`) once the Clock reaches millis `at`. */
export interface SetTimer {
  readonly _tag: "SetTimer"
  readonly timer: Timer
  readonly at: number
}

/** `timer`, armed earlier, is no longer wanted. */
export interface CancelTimer {
  readonly _tag: "CancelTimer"
  readonly timer: Timer
}

/** Probe `node` at `to` over a reliable stream, reporting by `deadline` through `tcpPingResult`. */
export interface TcpPing {
  readonly _tag: "TcpPing"
  readonly seqNo: number
  readonly to: string
  readonly node: string
  readonly deadline: number
}

/** Run a push/pull with `to`: periodic anti-entropy, or (`join`) a reconnection attempt. */
export interface StartPushPull {
  readonly _tag: "StartPushPull"
  readonly to: string
  readonly node: string
  readonly join: boolean
}

export interface Publish {
  readonly _tag: "Publish"
  readonly event: MemberEvent
}

/** A member was kept out of the table for its application. */
export interface Refuse {
  readonly _tag: "Refuse"
  readonly refusal: MemberRefused
}

/** The broadcast a caller waits on (leave, metadata update) has gone out, or was superseded. */
export interface BroadcastDone {
  readonly _tag: "BroadcastDone"
  readonly notify: number
}

/** An application message arrived; `origin` names the member that broadcast it (undefined: sent directly). */
export interface Deliver {
  readonly _tag: "Deliver"
  readonly from: string
  readonly origin: string | undefined
  readonly payload: Uint8Array
}

export type Output =
  | SendPacket
  | SetTimer
  | CancelTimer
  | TcpPing
  | StartPushPull
  | Publish
  | Refuse
  | BroadcastDone
  | Deliver

/** Where the parts of the core put their outputs until the shell drains them. */
export class Outbox {
  private out: Array<Output> = []
  private tokens = 0

  push(output: Output): void {
    this.out.push(output)
  }

  setTimer(timer: Timer, at: number): void {
    this.out.push({ _tag: "SetTimer", timer, at })
  }

  cancelTimer(timer: Timer): void {
    this.out.push({ _tag: "CancelTimer", timer })
  }

  /** A token no timer of this core has carried before. */
  token(): number {
    return ++this.tokens
  }

  /** Everything pushed since the last call. */
  take(): Array<Output> {
    const out = this.out
    this.out = []
    return out
  }
}
