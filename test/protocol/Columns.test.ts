import { describe, expect, it } from "vitest"
import { float64Column, int32Column, uint16Column } from "../../src/protocol/Columns.ts"

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

  it("are not counted as V8's external memory, whose growth starts full collections", () => {
    const before = process.memoryUsage()
    const column = int32Column(16 * 2 ** 20).fill(7)
    const after = process.memoryUsage()
    // 64 MB that the allocator hands out, none of it in the count that drives collections
    expect(after.arrayBuffers - before.arrayBuffers).toBeGreaterThanOrEqual(64 * 2 ** 20)
    expect(after.external - before.external).toBeLessThan(2 ** 20)
    expect(column[column.length - 1]).toBe(7)
  })
})
