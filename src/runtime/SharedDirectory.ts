/**
 * The `SharedDirectory` service: one `Directory` for every node that finds it
 * in its context, so that nodes running in one process (a simulated network of
 * thousands) store each member's name, address and metadata once. Without it a
 * node interns into a directory of its own.
 */
import { Context, Layer } from "effect"
import { Directory } from "../protocol/Directory.ts"

export class SharedDirectory extends Context.Service<SharedDirectory, Directory>()("effect-gossip/SharedDirectory") {
  /** A fresh directory for the layer's nodes. */
  static readonly layer: Layer.Layer<SharedDirectory> = Layer.sync(SharedDirectory, () => new Directory({ shareEncoded: true }))
}
