/**
 * The bookkeeping around serf queries and keys: open queries and their
 * answers, the key-operation tally, and the keyring file.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { KeyResponseTally } from "../../src/serf/KeyManager.ts"
import {
  formatKeyringFile,
  loadKeyring,
  parseKeyringFile,
  readKeyringFile,
  writeKeyringFile
} from "../../src/serf/KeyringFile.ts"
import type { QueryResponse } from "../../src/serf/Messages.ts"
import { PendingQueries, type QueryAnswer } from "../../src/serf/PendingQueries.ts"
import { encodeKeyResponse } from "../../src/serf/QueryPayloads.ts"

const response = (r: Partial<QueryResponse>): QueryResponse => ({
  _tag: "QueryResponse",
  ltime: 5,
  id: 9,
  from: "n1",
  flags: 0,
  payload: null,
  ...r
})

describe("open queries", () => {
  it("route each answer to its query once per member and kind, until the deadline", () => {
    const pending = new PendingQueries()
    const got: Array<QueryAnswer> = []
    pending.register({ ltime: 5, id: 9, deadline: 1000, wantsAck: true }, 10, (a) => got.push(a))
    assert.deepStrictEqual(pending.handle(response({ flags: 1 }), 0), { _tag: "Ack", from: "n1" })
    assert.strictEqual(pending.handle(response({ flags: 1 }), 0), "duplicate")
    assert.deepInclude(pending.handle(response({ payload: Uint8Array.of(1) }), 0), { _tag: "Response", from: "n1" })
    assert.strictEqual(pending.handle(response({ payload: Uint8Array.of(2) }), 0), "duplicate")
    assert.strictEqual(pending.handle(response({ id: 10 }), 0), "id-mismatch")
    assert.strictEqual(pending.handle(response({ ltime: 6 }), 0), "unknown-query")
    assert.strictEqual(pending.handle(response({ from: "n2" }), 1001), "finished")
    assert.deepStrictEqual(got.map((a) => `${a._tag}:${a.from}`), ["Ack:n1", "Response:n1"])
    pending.close(5)
    assert.strictEqual(pending.handle(response({ from: "n3" }), 0), "unknown-query")
    assert.strictEqual(pending.size, 0)
  })

  it("refuse acks nobody asked for, and stop at the bound on answers", () => {
    const pending = new PendingQueries()
    const got: Array<QueryAnswer> = []
    pending.register({ ltime: 1, id: 1, deadline: 1000, wantsAck: false }, 3, (a) => got.push(a))
    const r = (from: string, flags = 0) => response({ ltime: 1, id: 1, from, flags })
    assert.strictEqual(pending.handle(r("a", 1), 0), "unwanted-ack")
    for (const from of ["a", "b", "c"]) assert.strictEqual((pending.handle(r(from), 0) as QueryAnswer)._tag, "Response")
    assert.strictEqual(pending.handle(r("d"), 0), "full")
    assert.strictEqual(got.length, 3)
  })
})

describe("key operation tally", () => {
  const ok = encodeKeyResponse({ result: true, message: "", keys: [], primaryKey: "" })
  it("succeeds when every member answered without error", () => {
    const tally = new KeyResponseTally("install", 2)
    tally.add("a", ok)
    assert.isFalse(tally.complete)
    tally.add("b", ok)
    assert.isTrue(tally.complete)
    assert.deepInclude(tally.result(), { numNodes: 2, numResp: 2, numErr: 0, error: undefined, messages: {} })
  })

  it("reports failures, silence and bad answers as serf does", () => {
    const failed = encodeKeyResponse({ result: false, message: "Requested key is not in the keyring", keys: [], primaryKey: "" })
    const tally = new KeyResponseTally("use", 4)
    tally.add("a", ok)
    tally.add("b", failed)
    tally.add("c", Uint8Array.of(6, 0xc0))
    assert.deepInclude(tally.result(), {
      numResp: 3,
      numErr: 2,
      error: "2/4 nodes reported failure",
      messages: { b: "Requested key is not in the keyring", c: "Invalid key query response" }
    })
    const silent = new KeyResponseTally("remove", 3)
    silent.add("a", ok)
    assert.strictEqual(silent.result().error, "1/3 nodes reported success")
  })

  it("counts keys and primary keys for a list", () => {
    const tally = new KeyResponseTally("list", 3)
    tally.add("a", encodeKeyResponse({ result: true, message: "", keys: ["K1", "K2"], primaryKey: "K1" }))
    tally.add("b", encodeKeyResponse({ result: true, message: "", keys: ["K1"], primaryKey: "K1" }))
    tally.add("c", encodeKeyResponse({ result: false, message: "Keyring is empty (encryption not enabled)", keys: [], primaryKey: "" }))
    assert.deepInclude(tally.result(), {
      keys: { K1: 2, K2: 1 },
      primaryKeys: { K1: 2 },
      numErr: 1,
      error: "1/3 nodes reported failure"
    })
  })
})

describe("keyring file", () => {
  const K1 = Buffer.alloc(16, 1).toString("base64")
  const K2 = Buffer.alloc(32, 2).toString("base64")

  it("is serf's JSON array of base64 keys, primary first", () => {
    assert.strictEqual(formatKeyringFile([K1, K2]), `[\n  "${K1}",\n  "${K2}"\n]`)
    assert.deepStrictEqual(parseKeyringFile(formatKeyringFile([K1, K2])), [K1, K2])
    assert.include(parseKeyringFile("[]") as string, "no keys")
    assert.include(parseKeyringFile("{}") as string, "JSON array")
    assert.include(parseKeyringFile("nope") as string, "not JSON")
    assert.include(parseKeyringFile(`["${K1}", "abc"]`) as string, "key 2")
    assert.include(parseKeyringFile(`["${Buffer.alloc(10).toString("base64")}"]`) as string, "key 1")
  })

  it.effect("is written atomically with mode 0600 and read back; a missing file is created from --encrypt", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "keyring-"))
      const path = join(dir, "keyring.json")
      assert.isUndefined(yield* readKeyringFile(path))
      const created = yield* loadKeyring(path, [K1])
      assert.deepStrictEqual(created, { keys: [K1], ignoredEncrypt: false, created: true })
      assert.strictEqual(statSync(path).mode & 0o777, 0o600)
      yield* writeKeyringFile(path, [K2, K1])
      assert.deepStrictEqual(JSON.parse(readFileSync(path, "utf8")), [K2, K1])
      assert.deepStrictEqual(readdirSync(dir), ["keyring.json"], "no temporary file left behind")
      // an existing file wins over --encrypt
      assert.deepStrictEqual(yield* loadKeyring(path, [K1]), { keys: [K2, K1], ignoredEncrypt: true, created: false })
      // nothing to start from
      const missing = yield* Effect.flip(loadKeyring(join(dir, "other.json"), []))
      assert.include(missing.message, "--encrypt")
      // a corrupt file is refused with the reason
      writeFileSync(path, "[1, 2")
      const corrupt = yield* Effect.flip(readKeyringFile(path))
      assert.include(corrupt.message, "invalid keyring file")
      // a directory that does not exist: the write fails with the reason
      const unwritable = yield* Effect.flip(writeKeyringFile(join(dir, "no", "such", "dir.json"), [K1]))
      assert.include(unwritable.message, "Failed to write keyring file")
    }))
})
