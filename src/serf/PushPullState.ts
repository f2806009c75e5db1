/**
 * serf's push/pull state: what a serf agent sends as memberlist's delegate
 * state in every push/pull exchange (`0x02` then a msgpack struct). It carries
 * serf's three Lamport clocks, the status time of every member it knows and
 * the members it holds as left: what a node needs so that the intents it
 * sends later (a leave, a forced leave) are newer than what serf already holds.
 * The recent user events it also carries are skipped.
 */
import { keyTable, MsgpackReader } from "../codec/msgpack/Reader.ts"
import { SerfMessageType } from "./Messages.ts"

/** serf's `messagePushPull`, without its event buffer. */
export interface SerfPushPullState {
  /** The member-status clock. */
  readonly ltime: number
  /** Each member's status time: the LTime of the last join or leave intent serf took for it. */
  readonly statusLTimes: ReadonlyMap<string, number>
  /** Members serf holds as left. */
  readonly leftMembers: ReadonlyArray<string>
  readonly eventLTime: number
  readonly queryLTime: number
}

const MAX_LTIME = Number.MAX_SAFE_INTEGER
/** More entries than any cluster has members: a bound on what one state may make us allocate. */
const MAX_ENTRIES = 1 << 20

const FIELDS = keyTable(["EventLTime", "Events", "LTime", "LeftMembers", "QueryLTime", "StatusLTimes"])
// Go declaration order, as indexes into FIELDS, for array-encoded structs.
const DECL = [2, 5, 3, 0, 1, 4]

/** Decodes a push/pull state; `undefined` for another type or a malformed body. Never throws. */
export const decodePushPullState = (bytes: Uint8Array): SerfPushPullState | undefined => {
  if (bytes.length === 0 || bytes[0] !== SerfMessageType.pushPull) return undefined
  const r = new MsgpackReader(bytes, 1, bytes.length, MAX_ENTRIES)
  let ltime = 0
  let eventLTime = 0
  let queryLTime = 0
  const statusLTimes = new Map<string, number>()
  const leftMembers: Array<string> = []
  const n = r.readStructHeader()
  for (let i = 0; i < n && r.ok; i++) {
    switch (r.field(FIELDS, DECL, i)) {
      case 0:
        eventLTime = r.readUint(MAX_LTIME)
        break
      case 2:
        ltime = r.readUint(MAX_LTIME)
        break
      case 3: {
        const count = r.readArrayHeader()
        for (let j = 0; j < count && r.ok; j++) leftMembers.push(r.readString())
        break
      }
      case 4:
        queryLTime = r.readUint(MAX_LTIME)
        break
      case 5: {
        const count = r.readMapHeader()
        for (let j = 0; j < count && r.ok; j++) {
          const name = r.readString()
          statusLTimes.set(name, r.readUint(MAX_LTIME))
        }
        break
      }
      default:
        r.skip()
    }
  }
  return r.ok ? { ltime, statusLTimes, leftMembers, eventLTime, queryLTime } : undefined
}
