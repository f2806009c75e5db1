import { describe, expect, it } from "vitest"
import { float64Column, grownColumn, int32Column, releaseColumn, uint16Column } from "../../src/protocol/Columns.ts"

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

  it("free their memory when grown or released, not at the next collection", () => {
    const before = process.memoryUsage().arrayBuffers
    let column = int32Column(4 * 2 ** 20).fill(7)
    expect(process.memoryUsage().arrayBuffers - before).toBeGreaterThanOrEqual(16 * 2 ** 20)
    column = grownColumn(column, 8 * 2 ** 20)
    // the 16 MB column is gone: 32 MB held, not 48
    const grown = process.memoryUsage().arrayBuffers - before
    expect(grown).toBeGreaterThanOrEqual(32 * 2 ** 20)
    expect(grown).toBeLessThan(40 * 2 ** 20)
    expect(column[4 * 2 ** 20 - 1]).toBe(7)
    releaseColumn(column)
    expect(column.length).toBe(0)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 ** 20)
  })

  it("of 64 bytes or less are left as they are by a release", () => {
    const small = int32Column(16).fill(3)
    releaseColumn(small)
    expect(small.length).toBe(16)
    expect(small[15]).toBe(3)
  })
})
