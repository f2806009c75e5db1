/**
 * The msgpack subset memberlist uses: the writer's exact byte forms
 * (go-msgpack 0.5.5) and the reader's tolerance and bounds checks.
 */
import { describe, expect, it } from "vitest"
import { readAlive, readPing, readPushPullHeader } from "../../src/codec/MemberlistMessages.ts"
import { decodeUtf8, keyTable, MsgpackReader } from "../../src/codec/msgpack/Reader.ts"
import { readValue } from "../../src/codec/msgpack/Value.ts"
import { MsgpackWriter, utf8Length } from "../../src/codec/msgpack/Writer.ts"
import { fromHex, toHex, utf8 } from "./helpers.ts"

const written = (f: (w: MsgpackWriter) => void): string => {
  const w = new MsgpackWriter(4)
  f(w)
  return toHex(w.toBytes())
}

describe("MsgpackWriter (go-msgpack 0.5.5 forms)", () => {
  it("writes non-negative integers in the smallest unsigned form", () => {
    const cases: Array<[number, string]> = [
      [0, "00"],
      [127, "7f"],
      [128, "cc80"],
      [255, "ccff"],
      [256, "cd0100"],
      [586, "cd024a"],
      [65535, "cdffff"],
      [65536, "ce00010000"],
      [4294967295, "ceffffffff"],
      [4294967296, "cf0000000100000000"],
      [Number.MAX_SAFE_INTEGER, "cf001fffffffffffff"]
    ]
    for (const [n, hex] of cases) expect(written((w) => w.uint(n)), String(n)).toBe(hex)
  })

  it("writes negative integers in the smallest signed form", () => {
    const cases: Array<[number, string]> = [
      [-1, "ff"],
      [-32, "e0"],
      [-33, "d0df"],
      [-128, "d080"],
      [-129, "d1ff7f"],
      [-32768, "d18000"],
      [-32769, "d2ffff7fff"],
      [-2147483648, "d280000000"],
      [-2147483649, "d3ffffffff7fffffff"]
    ]
    for (const [n, hex] of cases) expect(written((w) => w.int(n)), String(n)).toBe(hex)
  })

  it("uses only the raw family for strings and bytes: fixstr, then 0xda, then 0xdb — never str8 or bin", () => {
    for (const [len, prefix] of [
      [0, "a0"],
      [31, "bf"],
      [32, "da0020"],
      [255, "da00ff"],
      [65535, "daffff"],
      [65536, "db00010000"]
    ] as const) {
      const s = "x".repeat(len)
      expect(written((w) => w.str(s)).slice(0, prefix.length), `str ${len}`).toBe(prefix)
      expect(written((w) => w.bytes(new Uint8Array(len))).slice(0, prefix.length), `bytes ${len}`).toBe(prefix)
    }
  })

  it("keeps nil and empty byte slices apart", () => {
    expect(written((w) => w.bytes(null))).toBe("c0")
    expect(written((w) => w.bytes(new Uint8Array(0)))).toBe("a0")
    expect(written((w) => w.str(""))).toBe("a0")
  })

  it("writes UTF-8 text, counting lone surrogates as U+FFFD like TextEncoder", () => {
    for (const s of ["é", "ノード", "😀x", "\ud800", "a\udc00b", "\ud83d"]) {
      const w = new MsgpackWriter(1)
      w.str(s)
      const bytes = w.toBytes()
      expect(utf8Length(s), s).toBe(utf8(s).length)
      expect(toHex(bytes.subarray(1)), s).toBe(toHex(utf8(s)))
    }
  })

  it("writes map and array headers, bools, nil and float64", () => {
    expect(written((w) => w.mapHeader(15))).toBe("8f")
    expect(written((w) => w.mapHeader(16))).toBe("de0010")
    expect(written((w) => w.mapHeader(65536))).toBe("df00010000")
    expect(written((w) => w.arrayHeader(15))).toBe("9f")
    expect(written((w) => w.arrayHeader(512))).toBe("dc0200")
    expect(written((w) => w.arrayHeader(70000))).toBe("dd00011170")
    expect(written((w) => (w.bool(true), w.bool(false), w.nil()))).toBe("c3c2c0")
    expect(written((w) => w.float64(1.5))).toBe("cb3ff8000000000000")
  })

  it("grows its buffer and can be reused", () => {
    const w = new MsgpackWriter(1)
    w.str("a".repeat(10000))
    expect(w.pos).toBe(10003)
    w.reset()
    w.uint(1)
    expect(toHex(w.toBytes())).toBe("01")
  })
})

describe("MsgpackReader", () => {
  const reader = (hex: string) => new MsgpackReader(fromHex(hex))

  it("reads integers of every form into range-checked fields", () => {
    for (const hex of ["05", "cc05", "cd0005", "ce00000005", "cf0000000000000005", "d005", "d10005", "d200000005", "d30000000000000005"]) {
      const r = reader(hex)
      expect(r.readUint(0xffff), hex).toBe(5)
      expect(r.ok && r.pos === hex.length / 2, hex).toBe(true)
    }
    const neg = reader("ff")
    expect(neg.readUint(10)).toBe(0)
    expect(neg.failure).toBe("Malformed")
    const big = reader("cd1000")
    big.readUint(0xff)
    expect(big.failure).toBe("Malformed")
    const huge = reader("cfffffffffffffffff")
    huge.readUint(Number.MAX_SAFE_INTEGER)
    expect(huge.failure).toBe("Malformed")
    expect(reader("d1ff00").readInt(-1000, 1000)).toBe(-256)
    const flt = reader("cb3ff8000000000000")
    flt.readUint(10)
    expect(flt.failure).toBe("Malformed")
  })

  it("reads nil as the zero value of any field", () => {
    const r = reader("c0c0c0c0c0")
    expect([r.readUint(5), r.readString(), r.readBytes(), r.readBool(), r.readStructHeader()]).toEqual([0, "", null, false, 0])
    expect(r.ok).toBe(true)
  })

  it("reads bools from c2/c3 and the fixints 0/1 only", () => {
    const r = reader("c3c20100")
    expect([r.readBool(), r.readBool(), r.readBool(), r.readBool()]).toEqual([true, false, true, false])
    const bad = reader("02")
    bad.readBool()
    expect(bad.failure).toBe("Malformed")
  })

  it("reads strings from the whole str family (str8 too) but not from bin", () => {
    for (const hex of ["a3616263", "d903616263", "da0003616263", "db00000003616263"]) {
      expect(reader(hex).readString(), hex).toBe("abc")
    }
    const bin = reader("c403616263")
    bin.readString()
    expect(bin.failure).toBe("Malformed")
  })

  it("reads byte slices from str, bin and arrays of small ints, always as a copy", () => {
    for (const hex of ["a3010203", "d903010203", "c403010203", "c50003010203", "c600000003010203", "93010203", "dc0003010203"]) {
      const input = fromHex(hex)
      const r = new MsgpackReader(input)
      const b = r.readBytes()!
      expect(toHex(b), hex).toBe("010203")
      expect(r.pos, hex).toBe(input.length)
      expect(b.buffer === input.buffer, hex).toBe(false)
    }
    const bad = reader("9301cd010003")
    bad.readBytes()
    expect(bad.failure).toBe("Malformed")
  })

  it("keeps raw bytes that are not UTF-8, and a leading BOM", () => {
    expect(toHex(reader("a2ff82").readBytes()!)).toBe("ff82")
    expect(decodeUtf8(fromHex("efbbbf41"), 0, 4)).toBe("\ufeffA")
  })

  it("reports truncation, with the first failure kept", () => {
    const r = reader("da00ff6161")
    expect(r.readString()).toBe("")
    expect(r.failure).toBe("Truncated")
    r.readUint(5)
    expect(r.failure).toBe("Truncated")
    expect(r.pos).toBe(r.end)
  })

  it("checks declared lengths before allocating", () => {
    const r = reader("dbffffffff00")
    expect(r.readBytes()).toBeNull()
    expect(r.failure).toBe("Truncated")
    const arr = reader("ddffffffff01")
    expect(arr.readBytes()).toBeNull()
    expect(arr.failure).toBe("Truncated")
    const limited = new MsgpackReader(fromHex("db7fffffff"), 0, 5, 1000)
    limited.readBytes()
    expect(limited.failure).toBe("TooLarge")
    const map = new MsgpackReader(fromHex("df7fffffff"), 0, 5, 1000)
    map.readMapHeader()
    expect(map.failure).toBe("TooLarge")
  })

  it("skips unknown values of every type and refuses deep nesting", () => {
    const skippable = "82a178" + "93" + "cb3ff8000000000000" + "d701000000000000002a" + "c7020a0102" + "a179" + "82a161c0a162a0"
    const r = reader(skippable)
    r.skip()
    expect(r.ok).toBe(true)
    expect(r.pos).toBe(skippable.length / 2)
    const deep = reader("91".repeat(100) + "00")
    deep.skip()
    expect(deep.failure).toBe("Malformed")
    const c1 = reader("c1")
    c1.skip()
    expect(c1.failure).toBe("Malformed")
  })

  it("matches struct keys by bytes, requires string keys, and reports the consumed length", () => {
    const table = keyTable(["A", "Bb"])
    const r = reader("83a141" + "01" + "a242620" + "2" + "a3787878" + "03")
    expect(r.readStructHeader()).toBe(3)
    expect(r.readKey(table)).toBe(0)
    r.skip()
    expect(r.readKey(table)).toBe(1)
    r.skip()
    expect(r.readKey(table)).toBe(-1)
    r.skip()
    expect(r.ok && r.remaining === 0).toBe(true)
    const binKey = reader("81c40141" + "01")
    binKey.readStructHeader()
    binKey.readKey(table)
    expect(binKey.failure).toBe("Malformed")
  })

  it("decodes structs from maps in any order, with unknown keys, or from arrays in Go declaration order", () => {
    // Keys out of order plus an unknown key, SeqNo as a signed int16 (newer memberlist's form).
    const map = fromHex("84a55365714e6fd10100a5457874726192c0c0a44e6f6465a26e31aa536f75726365506f7274d11f90")
    expect(readPing(new MsgpackReader(map, 0))).toEqual({
      _tag: "Ping",
      seqNo: 256,
      node: "n1",
      sourceAddr: null,
      sourceNode: "",
      sourcePort: 8080
    })
    // alive as an array: Incarnation, Node, Addr, Port, Meta, Vsn.
    const arr = fromHex("9602a26e32a47f000001cd1f90c0a6010502020505")
    expect(readAlive(new MsgpackReader(arr, 0))).toEqual({
      _tag: "Alive",
      incarnation: 2,
      node: "n2",
      addr: fromHex("7f000001"),
      port: 8080,
      meta: null,
      vsn: fromHex("010502020505")
    })
    // newer memberlist writes Nodes/UserStateLen as signed ints.
    const header = fromHex("83a44a6f696ec3a54e6f646573d100c8ac5573657253746174654c656ed2000f4240")
    const r = new MsgpackReader(header)
    expect(readPushPullHeader(r)).toEqual({ join: true, nodes: 200, userStateLen: 1000000 })
    expect(r.pos).toBe(header.length)
  })

  it("refuses out-of-range fields as Go does", () => {
    const port = fromHex("86a441646472a47f000001ab496e6361726e6174696f6e01a44d657461c0a44e6f6465a161a4506f7274ce00010000a356736ea6010502020505")
    const r = new MsgpackReader(port)
    expect(readAlive(r)).toBeUndefined()
    expect(r.failure).toBe("Malformed")
  })
})

describe("readValue (schema-less)", () => {
  it("reads every type, raw strings as bytes, big integers as bigint", () => {
    const hex = "88" + "a16101" + "a162c3" + "a163cb4000000000000000" + "a164a3787979" + "a16593c0ff7f" +
      "a16681a17801" + "a167cfffffffffffffffff" + "a168d38000000000000000"
    const r = new MsgpackReader(fromHex(hex))
    const v = readValue(r) as ReadonlyMap<string, unknown>
    expect(r.ok).toBe(true)
    expect(v.get("a")).toBe(1)
    expect(v.get("b")).toBe(true)
    expect(v.get("c")).toBe(2)
    expect(v.get("d")).toEqual(utf8("xyy"))
    expect(v.get("e")).toEqual([null, -1, 127])
    expect(v.get("f")).toEqual(new Map([["x", 1]]))
    expect(v.get("g")).toBe(18446744073709551615n)
    expect(v.get("h")).toBe(-9223372036854775808n)
  })

  it("refuses ext types and deep nesting", () => {
    const ext = new MsgpackReader(fromHex("d4012a"))
    readValue(ext)
    expect(ext.failure).toBe("Malformed")
    const deep = new MsgpackReader(fromHex("91".repeat(64) + "00"))
    readValue(deep)
    expect(deep.failure).toBe("Malformed")
  })
})
