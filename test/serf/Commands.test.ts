/**
 * `gossip event`, `query`, `keys` and `monitor` on the command line: every
 * flag decoded while parsing (a bad value is a usage error before anything
 * talks to the agent), and what `keys` prints, as `serf keys` prints it.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { CliOutput, Command } from "effect/cli"
import { columnize, formatKeyResult, manageKeys, sendEvent, sendQuery } from "../../src/cli/SerfCommands.ts"
import { eventParams, keysParams, monitorParams, queryParams } from "../../src/cli/SerfOptions.ts"

const K = Buffer.alloc(32, 3).toString("base64")

/** Parses `args` with `params`; what the handler would get, or the CLI's error texts. */
const parse = <P extends Parameters<typeof Command.make>[1]>(params: P, args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    let parsed: unknown
    const errors: Array<string> = []
    const command = Command.make("cmd", params as never, (options: unknown) => Effect.sync(() => void (parsed = options)))
    const presenter = CliOutput.layerPresenter({
      present: (event) =>
        Effect.sync(() => {
          if (event._tag === "InvalidInvocation") errors.push(...event.errors.map((e) => e.message))
        })
    })
    yield* Command.runWith(command, { version: "test" })(args).pipe(
      Effect.provide(Layer.mergeAll(NodeServices.layer, presenter)),
      Effect.ignore
    )
    return { parsed: parsed as Record<string, unknown> | undefined, errors }
  })

describe("serf commands: flags", () => {
  it.effect("event: name, optional payload, --coalesce=false", () =>
    Effect.gen(function*() {
      const { parsed } = yield* parse(eventParams, ["--ctl", "127.0.0.1:7373", "deploy", "v42", "--coalesce=false"])
      assert.deepInclude(parsed, { ctl: "127.0.0.1:7373", name: "deploy", coalesce: false })
      assert.deepStrictEqual(parsed!.payload, Option.some("v42"))
      const plain = yield* parse(eventParams, ["--ctl", "127.0.0.1:7373", "deploy"])
      assert.deepInclude(plain.parsed, { coalesce: true, payload: Option.none() })
      const missing = yield* parse(eventParams, ["--ctl", "127.0.0.1:7373"])
      assert.isUndefined(missing.parsed)
      assert.isNotEmpty(missing.errors)
    }))

  it.effect("query: timeout, node and tag filters, no-ack, relay factor, format", () =>
    Effect.gen(function*() {
      const { errors, parsed } = yield* parse(queryParams, [
        "--ctl",
        "127.0.0.1:7373",
        "--timeout",
        "1m30s",
        "--node",
        "a",
        "--node",
        "b",
        "--tag",
        "role=^web$",
        "--tag",
        "dc=eu=1",
        "--no-ack",
        "--relay-factor",
        "2",
        "--format",
        "json",
        "uptime",
        "now"
      ])
      assert.deepStrictEqual(errors, [])
      assert.deepInclude(parsed, { name: "uptime", noAck: true, relayFactor: 2, format: "json" })
      assert.deepStrictEqual(parsed!.timeout, Option.some(90_000))
      assert.deepStrictEqual(parsed!.node, ["a", "b"])
      assert.deepStrictEqual(parsed!.tag, [["role", "^web$"], ["dc", "eu=1"]])
      for (
        const [args, flag] of [
          [["--timeout", "soon"], "timeout"],
          [["--timeout", "0"], "timeout"],
          [["--tag", "role"], "tag"],
          [["--tag", "role=("], "tag"],
          [["--tag", "role=(a+)+"], "tag"],
          [["--relay-factor", "9"], "relay-factor"],
          [["--format", "xml"], "format"],
          [["--ctl", "nowhere"], "ctl"]
        ] as const
      ) {
        const r = yield* parse(queryParams, ["--ctl", "127.0.0.1:7373", ...args, "q"])
        assert.isUndefined(r.parsed, args.join(" "))
        assert.include(r.errors.join("\n"), flag, args.join(" "))
      }
    }))

  it.effect("keys: a key must be a valid AES key in base64", () =>
    Effect.gen(function*() {
      const { parsed } = yield* parse(keysParams, ["--ctl", "127.0.0.1:7373", "--install", K])
      assert.deepInclude(parsed, { install: Option.some(K), list: false })
      for (const bad of ["abc", Buffer.alloc(10).toString("base64")]) {
        const r = yield* parse(keysParams, ["--ctl", "127.0.0.1:7373", "--use", bad])
        assert.isUndefined(r.parsed)
        assert.include(r.errors.join("\n"), "use")
      }
      const monitor = yield* parse(monitorParams, ["--ctl", "127.0.0.1:7373", "--format", "json"])
      assert.deepInclude(monitor.parsed, { format: "json" })
    }))

  it.effect("handler checks are usage errors too, before anything is sent", () =>
    Effect.gen(function*() {
      const none = Option.none<string>()
      const base = { ctl: "127.0.0.1:1", install: none, use: none, remove: none, list: false, format: "text" as const }
      for (const options of [base, { ...base, list: true, install: Option.some(K) }]) {
        const error = yield* Effect.flip(manageKeys(options))
        assert.strictEqual(error._tag, "ShowHelp")
        assert.deepStrictEqual((error as { commandPath: ReadonlyArray<string> }).commandPath, ["gossip", "keys"])
      }
      const event = yield* Effect.flip(sendEvent({ ctl: "127.0.0.1:1", name: "_serf_x", payload: none, coalesce: true }))
      assert.strictEqual(event._tag, "ShowHelp")
      const query = yield* Effect.flip(sendQuery({
        ctl: "127.0.0.1:1",
        name: "_serf_list-keys",
        payload: none,
        timeout: Option.none(),
        node: [],
        tag: [],
        noAck: false,
        relayFactor: 0,
        format: "text"
      }))
      assert.strictEqual(query._tag, "ShowHelp")
    }))
})

describe("serf commands: output", () => {
  it("aligns columns as serf's columnize", () => {
    assert.strictEqual(columnize([["failed:", "a", "x"], ["failed:", "long-name", "y"]]), "failed:  a          x\nfailed:  long-name  y")
  })

  it("prints key results as serf keys does", () => {
    const ok = formatKeyResult({
      operation: "install",
      numNodes: 3,
      numResp: 3,
      numErr: 0,
      messages: {},
      keys: {},
      primaryKeys: {},
      error: undefined
    })
    assert.deepStrictEqual(ok, {
      text: "==> Installing key on all members...\n==> Successfully installed key!",
      failed: false
    })
    const failed = formatKeyResult({
      operation: "remove",
      numNodes: 2,
      numResp: 2,
      numErr: 2,
      messages: { b: "Removing the primary key is not allowed", a: "Removing the primary key is not allowed" },
      keys: {},
      primaryKeys: {},
      error: "2/2 nodes reported failure"
    })
    assert.isTrue(failed.failed)
    assert.strictEqual(
      failed.text,
      "==> Removing key on all members...\n" +
        "failed:  a  Removing the primary key is not allowed\n" +
        "failed:  b  Removing the primary key is not allowed\n\n" +
        "Error removing key: 2/2 nodes reported failure"
    )
    const list = formatKeyResult({
      operation: "list",
      numNodes: 2,
      numResp: 2,
      numErr: 0,
      messages: {},
      keys: { K1: 2, K2: 1 },
      primaryKeys: { K1: 2 },
      error: undefined
    })
    assert.include(list.text, "==> Keys gathered, listing cluster keys...\n\nK1  [2/2]\nK2  [1/2]")
    assert.include(list.text, "Primary keys:\nK1  [2/2]")
  })
})
