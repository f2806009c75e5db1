/**
 * `GossipOptions` from the environment: every option under `GOSSIP_` and its
 * name in capitals (`probeInterval` is `GOSSIP_PROBE_INTERVAL`). Durations are
 * milliseconds or Effect durations ("1 second"); the encryption keys are read
 * as a `Redacted` value and never logged. What is read is then checked like
 * options given in code, every problem at once.
 */
import { Config, Option, Redacted } from "effect"
import type { FieldKind, TunableName } from "./ConfigSchema.ts"
import { tunables } from "./ConfigSchema.ts"
import type { GossipOptions } from "./Gossip.ts"

/** `probeInterval` → `PROBE_INTERVAL`. */
export const envName = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()

const read = (kind: FieldKind, name: string): Config.Config<Option.Option<unknown>> => {
  switch (kind) {
    case "int":
      return Config.option(Config.Int(name))
    case "boolean":
      return Config.option(Config.Boolean(name))
    case "duration":
      // A bare number is milliseconds, as in code; anything else is checked as a duration.
      return Config.option(Config.map(Config.String(name), (s) => (/^\d+$/.test(s.trim()) ? Number(s) : s)))
    case "string":
      return Config.option(Config.String(name))
  }
}

const tunableConfigs = Object.fromEntries(
  (Object.keys(tunables) as Array<TunableName>).map((key) => [key, read(tunables[key][1], envName(key))])
) as Record<TunableName, Config.Config<Option.Option<unknown>>>

const keysFrom = (keys: Redacted.Redacted<string>): ReadonlyArray<string> =>
  Redacted.value(keys).split(",").map((k) => k.trim()).filter((k) => k !== "")

/** Present values only: an unset variable leaves the option to its default. */
const defined = (entries: Record<string, Option.Option<unknown>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(entries)) if (Option.isSome(value)) out[key] = value.value
  return out
}

/**
 * `GOSSIP_NAME`, `GOSSIP_BIND`, `GOSSIP_ADVERTISE`, `GOSSIP_PROFILE`, `GOSSIP_ENCRYPT`
 * (comma-separated base64 keys), `GOSSIP_LABEL`, `GOSSIP_WIRE_FORMAT`, `GOSSIP_COMPRESSION`,
 * `GOSSIP_VERIFY_INCOMING`, `GOSSIP_VERIFY_OUTGOING`, `GOSSIP_APPLICATION_NAME`,
 * `GOSSIP_APPLICATION_VERSION`, and every tunable (`GOSSIP_PROBE_INTERVAL`, …).
 */
export const options: Config.Config<GossipOptions> = Config.all({
  name: Config.option(Config.String("NAME")),
  bind: Config.option(Config.String("BIND")),
  advertise: Config.option(Config.String("ADVERTISE")),
  profile: Config.option(Config.String("PROFILE")),
  encryptionKeys: Config.option(Config.map(Config.Redacted("ENCRYPT"), keysFrom)),
  label: Config.option(Config.String("LABEL")),
  wireFormat: Config.option(Config.String("WIRE_FORMAT")),
  compression: Config.option(Config.Boolean("COMPRESSION")),
  verifyIncoming: Config.option(Config.Boolean("VERIFY_INCOMING")),
  verifyOutgoing: Config.option(Config.Boolean("VERIFY_OUTGOING")),
  applicationName: Config.option(Config.String("APPLICATION_NAME")),
  applicationVersion: Config.option(Config.String("APPLICATION_VERSION")),
  ...tunableConfigs
}).pipe(
  Config.nested("GOSSIP"),
  Config.map(({ applicationName, applicationVersion, ...rest }) => {
    const out = defined(rest)
    if (Option.isSome(applicationName)) {
      out["application"] = { name: applicationName.value, version: Option.getOrElse(applicationVersion, () => "") }
    }
    // Not yet checked: `Gossip.layer` checks these as it checks options given in code.
    return out as GossipOptions
  })
)
