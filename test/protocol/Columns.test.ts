import { describe, expect, it } from "vitest"
import {
  float64Column,
  grownColumn,
  int32Column,
  releaseColumn,
  SHARED_BYTES,
  uint16Column
} from "../../src/protocol/Columns.ts"

describe("Columns", () => {
  it("are zeroed typed arrays of the asked length", () => {
    const columns = [int32Column(5), uint16Column(5), float64Column(5)]
    for (const column of columns) {
      expect(column.length).toBe(5)
      expect([...column]).toEqual([0, 0, 0, 0, 0])
    }
    expect(int32Column(3).fill(-1)[2]).toBe(-1)
    expect(uint16Column(1).fill(0x1ffff)[0]).toBe(0xffff)
  })

  it("grow keeping their entries, the new ones filled, and leave the old column empty", () => {
    for (const size of [3, 1000]) {
      const old = int32Column(size).map((_, i) => i + 1)
      const grown = grownColumn(old, size * 2, -1)
      expect(grown).toBeInstanceOf(Int32Array)
      expect(grown.length).toBe(size * 2)
      expect(grown[size - 1]).toBe(size)
      expect(grown[size]).toBe(-1)
      expect(grown[size * 2 - 1]).toBe(-1)
      // a stale view reads nothing and writes nowhere
      expect(old.length).toBe(0)
      old[0] = 42
      expect(old[0]).toBeUndefined()
      expect(grown[0]).toBe(1)
    }
    const doubles = grownColumn(float64Column(2).fill(0.5), 4)
    expect([...doubles]).toEqual([0.5, 0.5, 0, 0])
    const halves = grownColumn(uint16Column(40).fill(7), 60)
    expect([halves[39], halves[40]]).toEqual([7, 0])
  })

  it("below SHARED_BYTES, free their memory when grown or released, not at the next collection", () => {
    const entries = SHARED_BYTES / 8 - 1
    const columns = Array.from({ length: 512 }, () => int32Column(entries).fill(7))
    const before = process.memoryUsage().arrayBuffers
    const grown = columns.map((column) => grownColumn(column, entries * 2))
    // each column moved to its grown buffer: 512 × 16 KB more held, not 512 × 32 KB
    const growth = process.memoryUsage().arrayBuffers - before
    expect(growth).toBeGreaterThanOrEqual(512 * entries * 4)
    expect(growth).toBeLessThan(512 * entries * 4 * 1.5)
    expect(grown[511]![entries - 1]).toBe(7)
    for (const column of grown) releaseColumn(column)
    expect(grown[0]!.length).toBe(0)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(-512 * entries * 3)
  })

  it("from SHARED_BYTES on, sit on shared buffers, which V8 does not count as external memory", () => {
    // an ordinary buffer's growth counts, and each 64 MB of it starts a full collection
    const before = process.memoryUsage()
    const small = int32Column(SHARED_BYTES / 4 - 1).fill(5)
    expect(small.buffer).toBeInstanceOf(ArrayBuffer)
    const large = grownColumn(small, 16 * 2 ** 20, -1)
    expect(large.buffer).toBeInstanceOf(SharedArrayBuffer)
    expect(small.length).toBe(0)
    expect([large[0], large[SHARED_BYTES / 4 - 2], large[SHARED_BYTES / 4 - 1], large[large.length - 1]]).toEqual([5, 5, -1, -1])
    const after = process.memoryUsage()
    expect(after.arrayBuffers - before.arrayBuffers).toBeGreaterThanOrEqual(64 * 2 ** 20)
    expect(after.external - before.external).toBeLessThan(2 ** 20)
    expect(float64Column(SHARED_BYTES / 8).buffer).toBeInstanceOf(SharedArrayBuffer)
    // a shared column is left to the collector: a release keeps it whole
    releaseColumn(large)
    expect(large.length).toBe(16 * 2 ** 20)
  })

  it("of 64 bytes or less are left as they are by a release", () => {
    const small = int32Column(16).fill(3)
    releaseColumn(small)
    expect(small.length).toBe(16)
    expect(small[15]).toBe(3)
  })
})
