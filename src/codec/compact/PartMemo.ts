/**
 * Decoded parts, for a transport that hands the receiver the very array the sender
 * built (`SimNetwork`). A simulated cluster sends each broadcast's encoded bytes (one
 * array, shared through the member directory) thousands of times, piggybacked in
 * compounds; every receiver would decode the same bytes into the same message. With
 * a memo the codec remembers which parts each compound it built was made of, and a
 * part's message once it has been decoded, so a receiver of a compound this process
 * built reads each part's message instead of its bytes.
 *
 * Sound because every array involved is immutable once built (encoders copy into
 * fresh arrays; `SimNetwork` never writes into a datagram) and messages are
 * read-only values: a memoised decode is the decode of the same bytes by the same
 * function. Arrays from anywhere else (a socket, a test) are not in the memo and are
 * decoded as usual. Both maps are weak, so the memo holds nothing the network has
 * let go of.
 */
import type { PacketMessage } from "../../protocol/Messages.ts"

export class PartMemo {
  private readonly parts = new WeakMap<Uint8Array, ReadonlyArray<Uint8Array>>()
  private readonly messages = new WeakMap<Uint8Array, PacketMessage>()

  /** `packet` was built from `parts` (a compound, or one part behind a checksum). */
  built(packet: Uint8Array, parts: ReadonlyArray<Uint8Array>): void {
    this.parts.set(packet, parts)
  }

  /** The parts `packet` was built from, if this process built it. */
  partsOf(packet: Uint8Array): ReadonlyArray<Uint8Array> | undefined {
    return this.parts.get(packet)
  }

  /** The message `part` decoded to, if it has been decoded. */
  message(part: Uint8Array): PacketMessage | undefined {
    return this.messages.get(part)
  }

  /** `part` decodes to `message`, exactly and with nothing left over. */
  decoded(part: Uint8Array, message: PacketMessage): void {
    this.messages.set(part, message)
  }
}
