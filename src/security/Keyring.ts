/**
 * memberlist's encryption: AES-GCM with a 12-byte random nonce
 * and a 16-byte tag, keys of 16, 24 or 32 bytes, and an ordered keyring whose
 * first key (the primary) seals everything sent while every key is tried on
 * receive — which is what lets a cluster rotate keys without downtime.
 *
 * Sealed payload: `version | nonce[12] | ciphertext | tag[16]`. Version 1
 * seals the message as is; version 0 (protocol version 1 peers) pads it
 * PKCS#7-style to a multiple of 16 first. Additional authenticated data: the
 * label bytes on UDP (empty without a label), the 5 framing bytes
 * `0x0a | uint32 length` followed by the label on TCP.
 *
 * Sealing and opening run per packet, so they are synchronous `node:crypto`
 * calls (crypto.subtle is asynchronous and about 10× slower here). Key
 * management is rare and goes through Effect with a typed `KeyringError`.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomFillSync } from "node:crypto"
import { Effect, Schema } from "effect"
import { allocBytes } from "../codec/msgpack/Bytes.ts"

/** Why a keyring operation was refused. */
export const KeyringErrorReason = Schema.Literals(["InvalidKey", "UnknownKey", "PrimaryKey", "Empty"])
/** See `KeyringErrorReason`. */
export type KeyringErrorReason = typeof KeyringErrorReason.Type

/** A key of the wrong size or encoding, a key that is not installed, or removing the primary key. */
export class KeyringError extends Schema.TaggedError<KeyringError>()("KeyringError", {
  reason: KeyringErrorReason,
  message: Schema.String
}) {}

/** 0: PKCS#7-padded (sent by protocol version 1); 1: unpadded (protocol version ≥ 2, what serf sends). */
export type EncryptionVersion = 0 | 1

/** GCM's standard nonce size. */
export const NONCE_SIZE = 12
/** GCM tag size memberlist uses. */
export const TAG_SIZE = 16
const BLOCK_SIZE = 16
/** Largest encrypted stream frame memberlist accepts (`maxPushStateBytes`). */
export const MAX_STREAM_FRAME = 20 * 1024 * 1024
/** Type byte of an encrypted stream frame. */
export const ENCRYPT_MSG = 10

/** Bytes of a sealed payload for `plainLength` bytes of plaintext. */
export const encryptedLength = (version: EncryptionVersion, plainLength: number): number =>
  1 + NONCE_SIZE + (version === 0 ? plainLength + BLOCK_SIZE - (plainLength % BLOCK_SIZE) : plainLength) + TAG_SIZE

/** The most sealing adds to a message (29 bytes for version 1, 45 for version 0). */
export const encryptionOverhead = (version: EncryptionVersion): number => encryptedLength(version, 0)

const cipherName = (keyLength: number): "aes-128-gcm" | "aes-192-gcm" | "aes-256-gcm" =>
  keyLength === 16 ? "aes-128-gcm" : keyLength === 24 ? "aes-192-gcm" : "aes-256-gcm"

/** Error for a key that AES cannot use, or undefined when the key is fine. */
const checkKey = (key: Uint8Array): KeyringError | undefined =>
  key.length === 16 || key.length === 24 || key.length === 32
    ? undefined
    : new KeyringError({ reason: "InvalidKey", message: `key must be 16, 24 or 32 bytes, got ${key.length}` })

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** One installed key: its bytes and the imported form node:crypto uses. */
interface Entry {
  readonly bytes: Uint8Array
  readonly key: KeyObject
}

const entry = (bytes: Uint8Array): Entry => {
  const copy = Uint8Array.from(bytes)
  return { bytes: copy, key: createSecretKey(copy) }
}

/**
 * Random nonces drawn in bulk: one CSPRNG call per 512 nonces instead of one
 * per packet (a 12-byte `randomFillSync` costs about as much as sealing a
 * small packet). Each pool byte is used once.
 */
const noncePool = new Uint8Array(NONCE_SIZE * 512)
let noncePoolPos = noncePool.length

const freshNonce = (into: Uint8Array): void => {
  if (noncePoolPos + NONCE_SIZE > noncePool.length) {
    randomFillSync(noncePool)
    noncePoolPos = 0
  }
  for (let i = 0; i < NONCE_SIZE; i++) into[i] = noncePool[noncePoolPos + i]!
  noncePoolPos += NONCE_SIZE
}

/**
 * Seals `plaintext` with `key` (16, 24 or 32 bytes) into `version | nonce | ciphertext | tag`,
 * leaving `headroom` zero bytes in front for headers the caller writes. The
 * nonce is random unless given (fixed nonces are for tests only: reusing a
 * nonce with a key breaks GCM).
 */
export const seal = (
  key: Uint8Array | KeyObject,
  version: EncryptionVersion,
  plaintext: Uint8Array,
  aad: Uint8Array,
  headroom = 0,
  nonce?: Uint8Array
): Uint8Array => {
  const keyLength = key instanceof Uint8Array ? key.length : key.symmetricKeySize ?? 32
  const padding = version === 0 ? BLOCK_SIZE - (plaintext.length % BLOCK_SIZE) : 0
  const out = allocBytes(headroom + encryptedLength(version, plaintext.length))
  let p = headroom
  out[p++] = version
  const iv = out.subarray(p, p + NONCE_SIZE)
  if (nonce !== undefined) iv.set(nonce.subarray(0, NONCE_SIZE))
  else freshNonce(iv)
  p += NONCE_SIZE
  const cipher = createCipheriv(cipherName(keyLength), key, iv, { authTagLength: TAG_SIZE })
  if (aad.length > 0) cipher.setAAD(aad)
  const body = cipher.update(plaintext)
  out.set(body, p)
  p += body.length
  if (padding > 0) {
    const pad = cipher.update(new Uint8Array(padding).fill(padding))
    out.set(pad, p)
    p += pad.length
  }
  const rest = cipher.final()
  out.set(rest, p)
  p += rest.length
  out.set(cipher.getAuthTag(), p)
  return out
}

/** Why a sealed payload could not be opened. */
export type DecryptFailure = "Empty" | "UnsupportedVersion" | "TooSmall" | "NoKey" | "BadPadding"

/**
 * Opens a sealed payload trying each key in order (first success wins).
 * Version 0 padding is stripped without validation, as memberlist does.
 */
export const open = (
  keys: ReadonlyArray<Uint8Array | KeyObject>,
  payload: Uint8Array,
  aad: Uint8Array
): Uint8Array | DecryptFailure => {
  if (payload.length === 0) return "Empty"
  const version = payload[0]!
  if (version > 1) return "UnsupportedVersion"
  if (payload.length < encryptedLength(version as EncryptionVersion, 0)) return "TooSmall"
  const iv = payload.subarray(1, 1 + NONCE_SIZE)
  const ciphertext = payload.subarray(1 + NONCE_SIZE, payload.length - TAG_SIZE)
  const tag = payload.subarray(payload.length - TAG_SIZE)
  for (const key of keys) {
    const keyLength = key instanceof Uint8Array ? key.length : key.symmetricKeySize ?? 32
    const decipher = createDecipheriv(cipherName(keyLength), key, iv, { authTagLength: TAG_SIZE })
    if (aad.length > 0) decipher.setAAD(aad)
    decipher.setAuthTag(tag)
    const body = decipher.update(ciphertext)
    try {
      decipher.final()
    } catch {
      continue
    }
    const plain = new Uint8Array(body.buffer, body.byteOffset, body.length)
    if (version === 1) return plain
    const pad = plain.length > 0 ? plain[plain.length - 1]! : 0
    if (pad > plain.length) return "BadPadding"
    return plain.subarray(0, plain.length - pad)
  }
  return "NoKey"
}

/** AAD of a UDP packet: the label bytes (none without a label). */
export const packetAuthData = (label: Uint8Array): Uint8Array => label

/** AAD of a TCP frame: its 5 framing bytes, then the label bytes. */
export const streamAuthData = (frameLength: number, label: Uint8Array): Uint8Array => {
  const aad = new Uint8Array(5 + label.length)
  aad[0] = ENCRYPT_MSG
  aad[1] = frameLength >>> 24
  aad[2] = (frameLength >>> 16) & 0xff
  aad[3] = (frameLength >>> 8) & 0xff
  aad[4] = frameLength & 0xff
  aad.set(label, 5)
  return aad
}

/** Decodes a key given as standard base64 (with padding), as serf's `-encrypt` and keyring files hold them. */
export const decodeBase64Key = (text: string): Effect.Effect<Uint8Array, KeyringError> =>
  Effect.suspend(() => {
    const trimmed = text.trim()
    if (trimmed.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed)) {
      return Effect.fail(new KeyringError({ reason: "InvalidKey", message: "key is not valid base64" }))
    }
    const bytes = Uint8Array.from(Buffer.from(trimmed, "base64"))
    const invalid = checkKey(bytes)
    return invalid === undefined ? Effect.succeed(bytes) : Effect.fail(invalid)
  })

/**
 * An ordered set of AES keys; element 0 is the primary. Read on every packet
 * and changed at runtime (install / use / remove), so changes replace the key
 * list instead of editing it: a decryption in progress keeps a consistent view.
 */
export class Keyring {
  private entries: ReadonlyArray<Entry>
  private keyObjects: ReadonlyArray<KeyObject>

  private constructor(entries: ReadonlyArray<Entry>) {
    this.entries = entries
    this.keyObjects = entries.map((e) => e.key)
  }

  /** A keyring from raw keys, the first being the primary; duplicates are dropped. */
  static make(keys: ReadonlyArray<Uint8Array>): Effect.Effect<Keyring, KeyringError> {
    return Effect.suspend(() => {
      if (keys.length === 0) {
        return Effect.fail(new KeyringError({ reason: "Empty", message: "a keyring needs at least one key" }))
      }
      const entries: Array<Entry> = []
      for (const key of keys) {
        const invalid = checkKey(key)
        if (invalid !== undefined) return Effect.fail(invalid)
        if (!entries.some((e) => sameBytes(e.bytes, key))) entries.push(entry(key))
      }
      return Effect.succeed(new Keyring(entries))
    })
  }

  /** `make` for keys known to be valid (tests, benchmarks); throws the `KeyringError` otherwise. */
  static makeUnsafe(keys: ReadonlyArray<Uint8Array>): Keyring {
    return Effect.runSync(Keyring.make(keys))
  }

  /** A keyring from base64 keys (serf's `-encrypt` value or keyring file), the first being the primary. */
  static fromBase64(keys: ReadonlyArray<string>): Effect.Effect<Keyring, KeyringError> {
    return Effect.forEach(keys, decodeBase64Key).pipe(Effect.flatMap((raw) => Keyring.make(raw)))
  }

  /** Copies of the installed keys, primary first. */
  get keys(): ReadonlyArray<Uint8Array> {
    return this.entries.map((e) => Uint8Array.from(e.bytes))
  }

  /** A copy of the key that seals outgoing messages. */
  get primaryKey(): Uint8Array {
    return Uint8Array.from(this.entries[0]!.bytes)
  }

  private set(entries: ReadonlyArray<Entry>): void {
    this.entries = entries
    this.keyObjects = entries.map((e) => e.key)
  }

  /** Adds a key at the end (no-op when already installed); it decrypts at once but does not seal until `use`. */
  install(key: Uint8Array): Effect.Effect<void, KeyringError> {
    return Effect.suspend(() => {
      const invalid = checkKey(key)
      if (invalid !== undefined) return Effect.fail(invalid)
      if (!this.entries.some((e) => sameBytes(e.bytes, key))) this.set([...this.entries, entry(key)])
      return Effect.void
    })
  }

  /** Makes an installed key the primary. */
  use(key: Uint8Array): Effect.Effect<void, KeyringError> {
    return Effect.suspend(() => {
      const found = this.entries.find((e) => sameBytes(e.bytes, key))
      if (found === undefined) {
        return Effect.fail(new KeyringError({ reason: "UnknownKey", message: "the key is not in the keyring" }))
      }
      this.set([found, ...this.entries.filter((e) => e !== found)])
      return Effect.void
    })
  }

  /** Removes a secondary key (no-op when absent); the primary key cannot be removed. */
  remove(key: Uint8Array): Effect.Effect<void, KeyringError> {
    return Effect.suspend(() => {
      if (sameBytes(this.entries[0]!.bytes, key)) {
        return Effect.fail(new KeyringError({ reason: "PrimaryKey", message: "the primary key cannot be removed" }))
      }
      const rest = this.entries.filter((e) => !sameBytes(e.bytes, key))
      if (rest.length !== this.entries.length) this.set(rest)
      return Effect.void
    })
  }

  /** Seals with the primary key (see `seal`). */
  encrypt(plaintext: Uint8Array, version: EncryptionVersion, aad: Uint8Array, headroom = 0): Uint8Array {
    return seal(this.keyObjects[0]!, version, plaintext, aad, headroom)
  }

  /** Opens with each key in turn (see `open`). */
  decrypt(payload: Uint8Array, aad: Uint8Array): Uint8Array | DecryptFailure {
    return open(this.keyObjects, payload, aad)
  }

  /**
   * A TCP frame `0x0a | uint32 length | sealed`, AAD = the 5 framing bytes and
   * the label, with `headroom` free bytes in front (for a label header).
   */
  encryptFrame(plaintext: Uint8Array, version: EncryptionVersion, label: Uint8Array, headroom = 0): Uint8Array {
    const length = encryptedLength(version, plaintext.length)
    const aad = streamAuthData(length, label)
    const out = seal(this.keyObjects[0]!, version, plaintext, aad, headroom + 5)
    out.set(aad.subarray(0, 5), headroom)
    return out
  }
}
