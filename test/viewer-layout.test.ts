// Viewer.layout: edges are polylines that never meet a node box other than their two ends, on
// random DAGs with forks and merges (seeded) and on the store the issue was found with (two demo
// runs, where the planner→merge edge used to be drawn straight through attempt B).
import { assert, describe, it } from "@effect/vitest"
import { Viewer } from "rath"

type Box = {
  readonly id: string
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}
type Point = readonly [number, number]

/** Does the closed segment p–q meet the closed box (Liang–Barsky clipping)? */
const meets = (p: Point, q: Point, box: Box): boolean => {
  let t0 = 0
  let t1 = 1
  const dx = q[0] - p[0]
  const dy = q[1] - p[1]
  const sides: ReadonlyArray<readonly [number, number]> = [
    [-dx, p[0] - box.x],
    [dx, box.x + box.width - p[0]],
    [-dy, p[1] - box.y],
    [dy, box.y + box.height - p[1]]
  ]
  for (const [a, b] of sides) {
    if (a === 0) {
      if (b < 0) return false
    } else {
      const t = b / a
      if (a < 0) t0 = Math.max(t0, t)
      else t1 = Math.min(t1, t)
      if (t0 > t1) return false
    }
  }
  return true
}

/** Every (edge, box) pair where a segment of the edge meets a box other than the edge's two ends. */
const crossings = (laid: Viewer.Layout): Array<string> => {
  const out: Array<string> = []
  for (const edge of laid.edges) {
    for (let i = 1; i < edge.points.length; i++) {
      for (const node of laid.nodes) {
        if (node.id === edge.from || node.id === edge.to) continue
        if (meets(edge.points[i - 1]!, edge.points[i]!, node)) out.push(`${edge.from}→${edge.to} crosses ${node.id}`)
      }
    }
  }
  return out
}

const overlaps = (laid: Viewer.Layout): Array<string> => {
  const out: Array<string> = []
  laid.nodes.forEach((a, i) =>
    laid.nodes.slice(i + 1).forEach((b) => {
      if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) {
        out.push(`${a.id} overlaps ${b.id}`)
      }
    })
  )
  return out
}

/** Ends on the right sides, everything inside the canvas. */
const checkShape = (laid: Viewer.Layout) => {
  const at = new Map(laid.nodes.map((node) => [node.id, node]))
  for (const node of laid.nodes) {
    assert.isTrue(node.x >= 0 && node.x + node.width <= laid.width, `${node.id} inside horizontally`)
    assert.isTrue(node.y >= 0 && node.y + node.height <= laid.height, `${node.id} inside vertically`)
  }
  for (const edge of laid.edges) {
    const from = at.get(edge.from)!
    const to = at.get(edge.to)!
    const first = edge.points[0]!
    const last = edge.points[edge.points.length - 1]!
    assert.strictEqual(first[1], from.y + from.height, "leaves the bottom side")
    assert.isTrue(first[0] > from.x && first[0] < from.x + from.width)
    assert.strictEqual(last[1], to.y, "enters the top side")
    assert.isTrue(last[0] > to.x && last[0] < to.x + to.width)
    for (const [x, y] of edge.points) assert.isTrue(x >= 0 && x <= laid.width && y >= 0 && y <= laid.height)
    // downwards only: never back up through a layer
    for (let i = 1; i < edge.points.length; i++) assert.isTrue(edge.points[i]![1] >= edge.points[i - 1]![1])
  }
}

/** mulberry32: a fixed seed gives the same graphs on every run. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** A random lineage: roots, forks and steps of earlier sessions, merges of two. */
const randomDag = (next: () => number, size: number): Array<Viewer.LayoutInput> => {
  const rows: Array<Viewer.LayoutInput> = []
  for (let i = 0; i < size; i++) {
    const id = `s${i}`
    const roll = next()
    const pick = () => `s${Math.floor(next() * i)}`
    if (i === 0 || roll < 0.08) rows.push({ id, parents: [] })
    else if (roll < 0.3 && i > 1) {
      const a = pick()
      let b = pick()
      if (b === a) b = `s${(Number(a.slice(1)) + 1) % i}`
      rows.push({ id, parents: [a, b], operation: "merge" })
    } else rows.push({ id, parents: [pick()], operation: next() < 0.5 ? "fork" : "step" })
  }
  // shuffled: the layout must not rely on parents coming first
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[rows[i], rows[j]] = [rows[j]!, rows[i]!]
  }
  return rows
}

describe("Viewer.layout routes edges around boxes", () => {
  it("on 300 random DAGs (seeded) with forks and merges, no segment meets a box other than its ends", () => {
    const next = random(17)
    let edges = 0
    let bent = 0
    for (let round = 0; round < 300; round++) {
      const rows = randomDag(next, 2 + Math.floor(next() * 40))
      const laid = Viewer.layout(rows)
      assert.strictEqual(laid.nodes.length, rows.length)
      assert.strictEqual(laid.edges.length, rows.reduce((n, row) => n + row.parents.length, 0))
      assert.deepStrictEqual(crossings(laid), [], `round ${round}`)
      assert.deepStrictEqual(overlaps(laid), [], `round ${round}`)
      checkShape(laid)
      edges += laid.edges.length
      bent += laid.edges.filter((edge) => edge.points.length > 2).length
    }
    // the generator does make long edges (the case that used to be drawn through boxes)
    assert.isAbove(edges, 3000)
    assert.isAbove(bent, 500)
  })

  it("a parent that is not given is a missing node, and its edges are routed too", () => {
    const laid = Viewer.layout([{ id: "a", parents: ["gone"] }, {
      id: "b",
      parents: ["gone", "a"],
      operation: "merge"
    }])
    assert.deepStrictEqual(laid.nodes.map((node) => [node.id, node.missing, node.status, node.layer]), [
      ["gone", true, "missing", 0],
      ["a", false, "idle", 1],
      ["b", false, "idle", 2]
    ])
    assert.deepStrictEqual(laid.edges.map((edge) => [edge.from, edge.to, edge.kind]), [
      ["gone", "a", "fork"],
      ["gone", "b", "merge"],
      ["a", "b", "merge"]
    ])
    assert.deepStrictEqual(crossings(laid), [])
  })

  it("a chain of 20,000 steps lays out without overflowing the stack", () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ id: `c${i}`, parents: i === 0 ? [] : [`c${i - 1}`] }))
    const laid = Viewer.layout(rows)
    assert.strictEqual(laid.nodes[19_999]!.layer, 19_999)
  })

  it("two demo runs in one store: planner→merge goes around attempt B, labels and status carried", () => {
    // the shape `rath demo` saves, twice: task → plan, plan forks attempts A and B (each placed,
    // then reviewed), plan + reviewed A merge, the merge is committed as the final session
    const run = (n: number): Array<Viewer.LayoutInput> => [
      { id: `task${n}`, parents: [], label: "root" },
      { id: `plan${n}`, parents: [`task${n}`], operation: "step", label: "planner" },
      { id: `placedA${n}`, parents: [`plan${n}`], operation: "fork", label: "attempt-A" },
      { id: `placedB${n}`, parents: [`plan${n}`], operation: "fork", label: "attempt-B" },
      { id: `coderA${n}`, parents: [`placedA${n}`], operation: "step", label: "coder A" },
      { id: `coderB${n}`, parents: [`placedB${n}`], operation: "step", label: "coder B", status: "failed" },
      { id: `merged${n}`, parents: [`plan${n}`, `coderA${n}`], operation: "merge", label: "merge" },
      { id: `final${n}`, parents: [`merged${n}`], operation: "step", label: "memory commit", status: "done" }
    ]
    const laid = Viewer.layout([...run(1), ...run(2)])
    assert.deepStrictEqual(crossings(laid), [])
    assert.deepStrictEqual(overlaps(laid), [])
    checkShape(laid)
    const at = new Map(laid.nodes.map((node) => [node.id, node]))
    for (const n of [1, 2]) {
      const edge = laid.edges.find((e) => e.from === `plan${n}` && e.to === `merged${n}`)!
      assert.strictEqual(edge.kind, "merge")
      // it crosses two layers (attempts, coders): two bend points in each, four points between the ends
      assert.strictEqual(edge.points.length, 6)
      for (const id of [`placedB${n}`, `coderB${n}`, `placedA${n}`, `coderA${n}`]) {
        const box = at.get(id)!
        for (let i = 1; i < edge.points.length; i++) {
          assert.isFalse(meets(edge.points[i - 1]!, edge.points[i]!, box), `plan→merge meets ${id}`)
        }
      }
      // the rejected branch ends in a leaf: nothing leaves coder B
      assert.isFalse(laid.edges.some((e) => e.from === `coderB${n}`))
      assert.strictEqual(at.get(`coderB${n}`)!.status, "failed")
      assert.strictEqual(at.get(`coderB${n}`)!.label, "coder B")
    }
    // the straight line the old viewer drew from plan to merge did pass through a box
    const plan = at.get("plan1")!
    const merged = at.get("merged1")!
    const straight: [Point, Point] = [[plan.x + plan.width / 2, plan.y + plan.height], [
      merged.x + merged.width / 2,
      merged.y
    ]]
    const hit = laid.nodes.filter((node) =>
      node.id !== "plan1" && node.id !== "merged1" && meets(straight[0], straight[1], node)
    )
    assert.isAbove(hit.length, 0, "the case is a real one: a straight edge would cross a box")
  })
})
