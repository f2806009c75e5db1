/**
 * `GossipWebSocketOptions` from the environment: everything `GossipLive`
 * reads (see `GossipEnv`), plus `GOSSIP_PATH`, `GOSSIP_ADVERTISE_URL` and the
 * TLS files `GOSSIP_TLS_CERT`, `GOSSIP_TLS_KEY`, `GOSSIP_TLS_CA` with
 * `GOSSIP_TLS_SERVER_NAME`. Checked like options given in code.
 */
import { Config, Option } from "effect"
import type { GossipWebSocketOptions } from "../../Gossip.ts"
import { options as baseOptions } from "../../GossipEnv.ts"

const some = (entries: Record<string, Option.Option<string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(entries)) if (Option.isSome(value)) out[key] = value.value
  return out
}

/** The WebSocket node's options from `GOSSIP_*` variables. */
export const webSocketOptions: Config.Config<GossipWebSocketOptions> = Config.all({
  base: baseOptions,
  ws: Config.all({
    path: Config.option(Config.String("PATH")),
    advertiseUrl: Config.option(Config.String("ADVERTISE_URL"))
  }).pipe(Config.nested("GOSSIP")),
  tls: Config.all({
    cert: Config.option(Config.String("TLS_CERT")),
    key: Config.option(Config.String("TLS_KEY")),
    ca: Config.option(Config.String("TLS_CA")),
    serverName: Config.option(Config.String("TLS_SERVER_NAME"))
  }).pipe(Config.nested("GOSSIP"))
}).pipe(Config.map(({ base, tls, ws }) => {
  const tlsOptions = some(tls)
  return {
    ...base,
    ...some(ws),
    ...(Object.keys(tlsOptions).length > 0 ? { tls: tlsOptions } : {})
  } as GossipWebSocketOptions
}))
