/**
 * Keyring and AES-GCM: key validation, runtime rotation, multi-key decryption,
 * version 0 padding, AAD.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeMemberlistCodec } from "../../src/codec/MemberlistCodec.ts"
import { nack } from "../../src/protocol/Messages.ts"
import {
  decodeBase64Key,
  encryptedLength,
  encryptionOverhead,
  Keyring,
  KeyringError,
  open,
  seal,
  streamAuthData
} from "../../src/security/Keyring.ts"
import { fromHex, toHex, utf8 } from "./helpers.ts"

const key = (fill: number, length = 32) => new Uint8Array(length).fill(fill)
const failure = <E>(effect: Effect.Effect<unknown, E>): E => Effect.runSync(Effect.flip(effect))

describe("Keyring", () => {
  it("accepts 16, 24 and 32-byte keys and refuses other sizes with a KeyringError", () => {
    for (const n of [16, 24, 32]) expect(Keyring.makeUnsafe([key(1, n)]).primaryKey.length).toBe(n)
    for (const n of [0, 1, 15, 17, 31, 33, 64]) {
      const e = failure(Keyring.make([key(1, n)]))
      expect(e).toBeInstanceOf(KeyringError)
      expect(e._tag).toBe("KeyringError")
      expect(e.reason).toBe("InvalidKey")
    }
    expect(failure(Keyring.make([])).reason).toBe("Empty")
    expect(() => Keyring.makeUnsafe([key(1, 5)])).toThrow()
  })

  it("reads base64 keys as serf gives them", () => {
    const ring = Effect.runSync(Keyring.fromBase64(["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "ABEiM0RVZneImaq7zN3u/w=="]))
    expect(toHex(ring.keys[0]!)).toBe("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    expect(toHex(ring.keys[1]!)).toBe("00112233445566778899aabbccddeeff")
    expect(failure(decodeBase64Key("not base64!")).reason).toBe("InvalidKey")
    expect(failure(decodeBase64Key("AAEC")).reason).toBe("InvalidKey")
  })

  it("installs, uses and removes keys at runtime; the primary cannot be removed", () => {
    const a = key(1)
    const b = key(2, 16)
    const ring = Keyring.makeUnsafe([a])
    Effect.runSync(ring.install(b))
    Effect.runSync(ring.install(b))
    expect(ring.keys.map(toHex)).toEqual([toHex(a), toHex(b)])
    expect(failure(ring.install(key(3, 7))).reason).toBe("InvalidKey")
    expect(failure(ring.use(key(9))).reason).toBe("UnknownKey")
    Effect.runSync(ring.use(b))
    expect(toHex(ring.primaryKey)).toBe(toHex(b))
    expect(failure(ring.remove(b)).reason).toBe("PrimaryKey")
    Effect.runSync(ring.remove(key(9)))
    Effect.runSync(ring.remove(a))
    expect(ring.keys.map(toHex)).toEqual([toHex(b)])
  })

  it("hands out copies of its keys", () => {
    const ring = Keyring.makeUnsafe([key(1)])
    ring.keys[0]!.fill(0)
    ring.primaryKey.fill(0)
    expect(toHex(ring.primaryKey)).toBe(toHex(key(1)))
  })

  it("seals with the primary key and opens with any installed key, in order", () => {
    const a = key(1)
    const b = key(2, 24)
    const sender = Keyring.makeUnsafe([a])
    const sealed = sender.encrypt(utf8("hello"), 1, new Uint8Array(0))
    expect(Keyring.makeUnsafe([b, a]).decrypt(sealed, new Uint8Array(0))).toEqual(utf8("hello"))
    expect(Keyring.makeUnsafe([b]).decrypt(sealed, new Uint8Array(0))).toBe("NoKey")
  })

  it("authenticates the AAD", () => {
    const ring = Keyring.makeUnsafe([key(1)])
    const sealed = ring.encrypt(utf8("hello"), 1, utf8("prod"))
    expect(ring.decrypt(sealed, utf8("prod"))).toEqual(utf8("hello"))
    expect(ring.decrypt(sealed, utf8("dev"))).toBe("NoKey")
    expect(ring.decrypt(sealed, new Uint8Array(0))).toBe("NoKey")
  })

  it("pads version 0 with PKCS#7 (a full block when aligned) and strips it on receipt", () => {
    const ring = Keyring.makeUnsafe([key(1)])
    for (let n = 0; n <= 33; n++) {
      const plain = new Uint8Array(n).fill(0x41)
      const v0 = ring.encrypt(plain, 0, new Uint8Array(0))
      expect(v0.length, `v0 ${n}`).toBe(encryptedLength(0, n))
      expect(v0.length - 29 - n, `padding ${n}`).toBe(16 - (n % 16))
      expect(v0[0]).toBe(0)
      expect(ring.decrypt(v0, new Uint8Array(0)), `v0 ${n}`).toEqual(plain)
      const v1 = ring.encrypt(plain, 1, new Uint8Array(0))
      expect(v1.length).toBe(n + 29)
      expect(ring.decrypt(v1, new Uint8Array(0)), `v1 ${n}`).toEqual(plain)
    }
    expect(encryptionOverhead(1)).toBe(29)
    expect(encryptionOverhead(0)).toBe(45)
  })

  it("refuses unknown versions and payloads too small for their version", () => {
    const ring = Keyring.makeUnsafe([key(1)])
    expect(ring.decrypt(new Uint8Array(0), new Uint8Array(0))).toBe("Empty")
    expect(ring.decrypt(new Uint8Array(60).fill(2), new Uint8Array(0))).toBe("UnsupportedVersion")
    expect(ring.decrypt(new Uint8Array(28), new Uint8Array(0))).toBe("TooSmall")
    expect(ring.decrypt(new Uint8Array(44), new Uint8Array(0))).toBe("TooSmall")
    expect(ring.decrypt(Uint8Array.of(1, ...new Uint8Array(43)), new Uint8Array(0))).toBe("NoKey")
  })

  it("uses a fresh nonce for every message", () => {
    const ring = Keyring.makeUnsafe([key(1)])
    const a = ring.encrypt(utf8("x"), 1, new Uint8Array(0))
    const b = ring.encrypt(utf8("x"), 1, new Uint8Array(0))
    expect(toHex(a.subarray(1, 13))).not.toBe(toHex(b.subarray(1, 13)))
  })

  it("is deterministic with a given nonce, for golden checks", () => {
    const nonce = fromHex("a0a1a2a3a4a5a6a7a8a9aaab")
    const a = seal(key(1), 1, utf8("x"), new Uint8Array(0), 3, nonce)
    const b = seal(key(1), 1, utf8("x"), new Uint8Array(0), 3, nonce)
    expect(toHex(a)).toBe(toHex(b))
    expect(toHex(a.subarray(0, 4))).toBe("00000001")
    expect(open([key(1)], a.subarray(3), new Uint8Array(0))).toEqual(utf8("x"))
  })

  it("frames TCP payloads as 0x0a | length | sealed, authenticating the frame header", () => {
    const ring = Keyring.makeUnsafe([key(1)])
    const frame = ring.encryptFrame(utf8("stream"), 1, utf8("prod"), 2)
    const length = encryptedLength(1, 6)
    expect(toHex(frame.subarray(2, 7))).toBe(`0a${length.toString(16).padStart(8, "0")}`)
    expect(ring.decrypt(frame.subarray(7), streamAuthData(length, utf8("prod")))).toEqual(utf8("stream"))
    expect(ring.decrypt(frame.subarray(7), streamAuthData(length, new Uint8Array(0)))).toBe("NoKey")
  })

  it("rotates keys under a running codec", () => {
    const oldKey = key(1)
    const newKey = key(2)
    const ring = Keyring.makeUnsafe([oldKey])
    const codec = makeMemberlistCodec({ keyring: ring })
    const oldOnly = makeMemberlistCodec({ keyring: Keyring.makeUnsafe([oldKey]) })
    const newOnly = makeMemberlistCodec({ keyring: Keyring.makeUnsafe([newKey]) })
    const part = codec.encodeMessage(nack(7))

    Effect.runSync(ring.install(newKey))
    expect(newOnly.decodePacket(codec.encodePacket([part], { checksum: false })).errors[0]?.reason).toBe("Decrypt")
    expect(codec.decodePacket(newOnly.encodePacket([part], { checksum: false })).messages).toEqual([nack(7)])

    Effect.runSync(ring.use(newKey))
    expect(newOnly.decodePacket(codec.encodePacket([part], { checksum: false })).messages).toEqual([nack(7)])
    expect(oldOnly.decodePacket(codec.encodePacket([part], { checksum: false })).errors[0]?.reason).toBe("Decrypt")

    Effect.runSync(ring.remove(oldKey))
    expect(codec.decodePacket(oldOnly.encodePacket([part], { checksum: false })).errors[0]?.reason).toBe("Decrypt")
  })
})
