/**
 * `gossip members`: serf's filters (whole-value regexps, all must match, a
 * missing tag read as empty), their checks at parse time, and the output as
 * `serf members` prints it; `gossip info`'s text layout.
 */
import { assert, describe, it } from "@effect/vitest"
import { Option, Schema } from "effect"
import { formatInfo } from "../../src/cli/Info.ts"
import { memberFilter, Pattern, StatusPattern, TagPattern } from "../../src/cli/MemberFilter.ts"
import type { MemberInfo } from "../../src/cli/MemberInfo.ts"
import { columns, formatMembers } from "../../src/cli/Members.ts"
import type { SerfStatus } from "../../src/cli/SerfView.ts"

const row = (name: string, status: SerfStatus, tags: Record<string, string> = {}, addr = "10.0.0.1:7946"): MemberInfo => ({
  name,
  addr,
  port: 7946,
  tags,
  status,
  state: status === "failed" ? "dead" : status === "left" ? "left" : "alive",
  incarnation: 3,
  protocol: { min: 2, max: 5, version: 5 },
  memberlist: { min: 1, max: 5, version: 2 }
})

const rows = [
  row("web-1", "alive", { role: "web", dc: "east" }),
  row("web-2", "failed", { role: "web", dc: "west" }),
  row("db-1", "left", { role: "db" }),
  row("cache", "leaving")
]

const names = (filters: Partial<Parameters<typeof memberFilter>[0]>) =>
  rows.filter(memberFilter({ status: Option.none(), name: Option.none(), tags: [], ...filters })).map((m) => m.name)

describe("gossip members filters", () => {
  it("matches whole values: status, name and every tag", () => {
    assert.deepStrictEqual(names({}), ["web-1", "web-2", "db-1", "cache"])
    assert.deepStrictEqual(names({ status: Option.some("alive") }), ["web-1"])
    assert.deepStrictEqual(names({ status: Option.some("left|leaving") }), ["db-1", "cache"])
    assert.deepStrictEqual(names({ status: Option.some("ali") }), [], "anchored: a prefix does not match")
    assert.deepStrictEqual(names({ name: Option.some("web-.*") }), ["web-1", "web-2"])
    assert.deepStrictEqual(names({ name: Option.some("web") }), [])
    assert.deepStrictEqual(names({ tags: [["role", "web"]] }), ["web-1", "web-2"])
    assert.deepStrictEqual(names({ tags: [["role", "web"], ["dc", "w.*"]] }), ["web-2"], "all must match")
    assert.deepStrictEqual(names({ tags: [["role", ""]] }), ["cache"], "a missing tag reads as empty")
    assert.deepStrictEqual(names({ status: Option.some("alive|failed"), tags: [["dc", "east"]] }), ["web-1"])
  })

  it("refuses bad patterns when the command line is parsed", () => {
    const pattern = Schema.decodeUnknownSync(Pattern)
    assert.strictEqual(pattern("a.*"), "a.*")
    assert.throws(() => pattern("("), /regular expression/)
    const status = Schema.decodeUnknownSync(StatusPattern)
    assert.strictEqual(status("failed|left"), "failed|left")
    assert.throws(() => status("dead"), /matches none of the statuses alive, leaving, left, failed/)
    assert.throws(() => status("[a"), /regular expression/)
    const tag = Schema.decodeUnknownSync(TagPattern)
    assert.deepStrictEqual(tag("role=web|db"), ["role", "web|db"])
    assert.deepStrictEqual(tag("expr=a=b"), ["expr", "a=b"])
    assert.throws(() => tag("role=(("), /regular expression/)
    assert.throws(() => tag("=web"), /key=value/)
  })
})

describe("gossip members output", () => {
  it("prints serf's columns, sorted by name, without a header", () => {
    assert.strictEqual(
      formatMembers(rows, false),
      [
        "cache  10.0.0.1:7946  leaving",
        "db-1   10.0.0.1:7946  left     role=db",
        "web-1  10.0.0.1:7946  alive    dc=east,role=web",
        "web-2  10.0.0.1:7946  failed   dc=west,role=web"
      ].join("\n")
    )
  })

  it("--detailed adds serf's protocol columns, then memberlist's versions and the incarnation", () => {
    const line = formatMembers([row("a", "alive", { role: "x" })], true)
    assert.strictEqual(
      line,
      "a  10.0.0.1:7946  alive  role=x  Protocol Version: 5  Available Protocol Range: [2, 5]  " +
        "Memberlist Protocol: 2 [1, 5]  Incarnation: 3"
    )
  })

  it("aligns columns two spaces apart and leaves the last one unpadded", () => {
    assert.strictEqual(columns([["a", "bb", ""], ["ccc", "d", "e"]]), "a    bb\nccc  d   e")
    assert.strictEqual(formatMembers([], false), "")
  })

  it("prints info as serf does: sorted sections, then sorted `key = value` lines", () => {
    assert.strictEqual(
      formatInfo({ tags: { role: "web" }, agent: { name: "a", addr: "1.2.3.4:5" } }),
      "agent:\n\taddr = 1.2.3.4:5\n\tname = a\ntags:\n\trole = web"
    )
  })
})
