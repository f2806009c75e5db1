/**
 * Bounds of the compact format. The decoder rejects anything beyond them before
 * allocating, so a hostile or corrupt length cannot make a node buffer or build
 * more than these; the encoder refuses to produce what the decoder would reject.
 */

/** Longest string field (node names, error text), in UTF-8 bytes. */
export const MAX_STRING_BYTES = 64 * 1024

/** Most node states one push/pull may carry. */
export const MAX_PUSH_NODES = 1_048_576

/**
 * Fewest bytes one encoded push node state can take (seven fields of at least
 * one byte each); lets the decoder reject an impossible count up front.
 */
export const MIN_PUSH_NODE_BYTES = 7

/**
 * Largest stream frame body. Big enough for `MAX_PUSH_NODES` realistic states
 * (~50 bytes each) and still a bound on what a peer can make us buffer.
 */
export const MAX_STREAM_FRAME_BYTES = 64 * 1024 * 1024

/** Compound parts are counted in one byte. */
export const MAX_COMPOUND_PARTS = 255

/** Compound part lengths are two bytes. */
export const MAX_COMPOUND_PART_BYTES = 0xffff

/** `[pmin, pmax, pcur, dmin, dmax, dcur]`. */
export const VSN_BYTES = 6

/** Ports are 16-bit. */
export const MAX_PORT = 0xffff

/** Push/pull node states are numbered 0 (alive) to 3 (left). */
export const MAX_WIRE_STATE = 3
