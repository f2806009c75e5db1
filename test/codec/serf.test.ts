/**
 * serf tags in node meta and serf messages in memberlist user messages.
 */
import { describe, expect, it } from "vitest"
import { makeMemberlistCodec } from "../../src/codec/MemberlistCodec.ts"
import {
  decodeSerfMessage,
  encodeJoinIntent,
  encodeLeaveIntent,
  encodeQuery,
  encodeQueryResponse,
  encodeUserEvent,
  leaveIntentMessage
} from "../../src/serf/Messages.ts"
import { decodeTags, encodeTags } from "../../src/serf/Tags.ts"
import { fromHex, toHex, utf8 } from "./helpers.ts"

describe("serf tags", () => {
  it("encodes 0xff + a string map with keys in byte order", () => {
    expect(toHex(encodeTags({}))).toBe("ff80")
    expect(toHex(encodeTags({ role: "web", dc: "lab" }))).toBe("ff82a26463a36c6162a4726f6c65a3776562")
    expect(toHex(encodeTags({ role: "db" }))).toBe("ff81a4726f6c65a26462")
    // Upper case sorts before lower case, multi-byte after ASCII.
    const keys = Object.keys(decodeTags(encodeTags({ b: "1", B: "2", "é": "3", a: "4" })))
    expect(keys).toEqual(["B", "a", "b", "é"])
  })

  it("round-trips any tags, including odd keys", () => {
    const tags = { role: "web", "__proto__": "x", "": "", "ノード": "値".repeat(40) }
    const back = decodeTags(encodeTags(tags))
    expect(back).toEqual(tags)
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
  })

  it("decodes meta the way serf does", () => {
    expect(decodeTags(null)).toEqual({ role: "" })
    expect(decodeTags(new Uint8Array(0))).toEqual({ role: "" })
    expect(decodeTags(utf8("legacy"))).toEqual({ role: "legacy" })
    expect(decodeTags(fromHex("ff82a4726f6c65a3776562a26463a36c6162"))).toEqual({ role: "web", dc: "lab" })
    // A truncated map keeps what decoded before the error.
    expect(decodeTags(fromHex("ff82a4726f6c65a3776562a26463a36c"))).toEqual({ role: "web" })
    expect(decodeTags(fromHex("ff"))).toEqual({})
    expect(decodeTags(fromHex("ff81a1780a"))).toEqual({})
  })
})

describe("serf messages", () => {
  it("builds the leave intent user message serf needs to show a node as left", () => {
    const codec = makeMemberlistCodec({ compression: false })
    const bytes = codec.encodeMessage(leaveIntentMessage("go1"))
    // [08] 00 83 a5'LTime' 01 a4'Node' a3'go1' a5'Prune' c2
    expect(toHex(bytes)).toBe("08" + "00" + "83" + "a54c54696d65" + "01" + "a44e6f6465" + "a3676f31" + "a55072756e65" + "c2")
    const decoded = codec.decodePacket(bytes).messages[0]
    if (decoded?._tag !== "User") throw new Error("not a user message")
    expect(decodeSerfMessage(decoded.payload)).toEqual({ _tag: "Leave", ltime: 1, node: "go1", prune: false })
  })

  it("encodes and decodes join intents and user events", () => {
    const join = encodeJoinIntent({ ltime: 300, node: "n2" })
    expect(toHex(join)).toBe("0182a54c54696d65cd012ca44e6f6465a26e32")
    expect(decodeSerfMessage(join)).toEqual({ _tag: "Join", ltime: 300, node: "n2" })
    const event = { ltime: 2, name: "deploy", payload: utf8("v1.2.3"), cc: true }
    expect(decodeSerfMessage(encodeUserEvent(event))).toEqual({ _tag: "UserEvent", ...event })
    const empty = { ltime: 2, name: "restart", payload: null, cc: false }
    expect(decodeSerfMessage(encodeUserEvent(empty))).toEqual({ _tag: "UserEvent", ...empty })
    const leave = { ltime: 2 ** 40, node: "ノード", prune: true }
    expect(decodeSerfMessage(encodeLeaveIntent(leave))).toEqual({ _tag: "Leave", ...leave })
  })

  it("encodes and decodes queries (with filters) and query responses", () => {
    const query = {
      ltime: 7,
      id: 1822061403,
      addr: Uint8Array.of(127, 0, 0, 21),
      port: 27946,
      sourceNode: "n1",
      filters: [Uint8Array.of(0, 0x91, 0xa2, 0x6e, 0x32)],
      flags: 1,
      relayFactor: 2,
      timeout: 2_000_000_000,
      name: "whoami",
      payload: utf8("hi")
    }
    expect(decodeSerfMessage(encodeQuery(query))).toEqual({ _tag: "Query", ...query })
    expect(decodeSerfMessage(encodeQuery({ ...query, filters: null, payload: null }))).toEqual({
      _tag: "Query",
      ...query,
      filters: null,
      payload: null
    })
    const response = { ltime: 1, id: 5, from: "ts1", flags: 1, payload: null }
    expect(decodeSerfMessage(encodeQueryResponse(response))).toEqual({ _tag: "QueryResponse", ...response })
  })

  it("tolerates unknown keys, reports unknown types, and refuses malformed bodies without throwing", () => {
    expect(decodeSerfMessage(fromHex("0183a54c54696d6501a3466f6fc3a44e6f6465a26e32"))).toEqual({
      _tag: "Join",
      ltime: 1,
      node: "n2"
    })
    expect(decodeSerfMessage(fromHex("0a81a178c0"))).toEqual({ _tag: "Unknown", type: 10 })
    // a relay header with no message after it: nothing to forward
    expect(decodeSerfMessage(fromHex("0981a178c0"))).toBeUndefined()
    expect(decodeSerfMessage(fromHex("07"))).toEqual({ _tag: "Unknown", type: 7 })
    expect(decodeSerfMessage(new Uint8Array(0))).toBeUndefined()
    expect(decodeSerfMessage(fromHex("0082a54c54696d65"))).toBeUndefined()
    expect(decodeSerfMessage(fromHex("01ff"))).toBeUndefined()
    expect(decodeSerfMessage(fromHex("0381a143ff"))).toEqual({
      _tag: "UserEvent",
      ltime: 0,
      name: "",
      payload: null,
      cc: false
    })
  })
})
