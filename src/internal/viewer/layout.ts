// A layered (Sugiyama-style) layout of a lineage DAG whose edges never cross a node box other than
// their two ends.
//
// 1. Layers: a node sits one layer below its deepest parent (longest path from a root).
// 2. An edge spanning k > 1 layers gets k - 1 dummy points, one per layer it crosses; a dummy takes
//    a narrow slot of its own in that layer's order, so no box sits where it passes.
// 3. Order within a layer: barycentre sweeps (down, then up), ties by input order.
// 4. x: each layer is placed in its order with fixed gaps, pulled toward the mean x of its
//    neighbours in the layer above (then below), then shifted as a block; slots never overlap.
// 5. An edge leaves its source's bottom side, runs through the gap between layers to the next
//    point (a dummy crosses its layer's band vertically in its own slot) and enters its target's
//    top side. Boxes occupy only the layer bands and no two slots of a band overlap, so no segment
//    meets a box other than its ends.

/** What the layout needs of a session. */
export interface Input {
  readonly id: string
  readonly parents: ReadonlyArray<string>
  /** The lineage operation that made it (fork, step, merge, detach). */
  readonly operation?: string | undefined
  readonly label?: string | undefined
  readonly status?: string | undefined
}

export interface Node {
  readonly id: string
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
  readonly label: string
  readonly status: string
  readonly layer: number
  /** A parent named by some session but not given: drawn dashed. */
  readonly missing: boolean
}

export interface Edge {
  readonly from: string
  readonly to: string
  /** "merge" for an edge into a merge, "fork" for every other lineage edge (see `operation`). */
  readonly kind: "fork" | "merge"
  /** The child's lineage operation: fork, step, merge or detach. */
  readonly operation: string
  /** The polyline, source bottom side to target top side. */
  readonly points: ReadonlyArray<readonly [number, number]>
}

export interface Layout {
  readonly width: number
  readonly height: number
  readonly nodes: ReadonlyArray<Node>
  readonly edges: ReadonlyArray<Edge>
}

export const geometry = { width: 210, height: 62, gapX: 36, gapY: 70, margin: 24, dummy: 14 } as const

interface Slot {
  readonly key: string
  readonly width: number
  /** A real node (its id), or a dummy of the edge with this index. */
  readonly node: string | undefined
  readonly edge: number | undefined
  up: Array<Slot>
  down: Array<Slot>
  order: number
  x: number
}

const round = (n: number) => Math.round(n * 10) / 10

export const layout = (inputs: Iterable<Input>): Layout => {
  const given = new Map<string, Input>()
  for (const input of inputs) given.set(input.id, input)
  const ids: Array<string> = []
  const missing = new Set<string>()
  for (const input of given.values()) {
    for (const parent of input.parents) {
      if (!given.has(parent) && !missing.has(parent)) {
        missing.add(parent)
        ids.push(parent)
      }
    }
  }
  for (const id of given.keys()) ids.push(id)

  // 1. layers (a cycle, which validateAcyclic reports, is cut where it closes)
  const layerOf = new Map<string, number>()
  const visiting = new Set<string>()
  const parentsOf = (id: string) => given.get(id)?.parents ?? []
  // depth-first with an explicit stack: a chain of 100,000 steps must not overflow the call stack
  for (const start of ids) {
    const stack = [start]
    while (stack.length > 0) {
      const id = stack[stack.length - 1]!
      if (layerOf.has(id)) {
        stack.pop()
      } else if (!visiting.has(id)) {
        visiting.add(id)
        // a parent still being visited closes a cycle (validateAcyclic reports it): cut there
        for (const parent of parentsOf(id)) if (!layerOf.has(parent) && !visiting.has(parent)) stack.push(parent)
      } else {
        let value = 0
        for (const parent of parentsOf(id)) {
          const known = layerOf.get(parent)
          if (known !== undefined) value = Math.max(value, known + 1)
        }
        visiting.delete(id)
        layerOf.set(id, value)
        stack.pop()
      }
    }
  }

  const layers: Array<Array<Slot>> = []
  const slotOf = new Map<string, Slot>()
  const place = (slot: Slot, layer: number) => {
    const row = (layers[layer] ??= [])
    slot.order = row.length
    row.push(slot)
  }
  for (const id of ids) {
    const slot: Slot = {
      key: id,
      width: geometry.width,
      node: id,
      edge: undefined,
      up: [],
      down: [],
      order: 0,
      x: 0
    }
    slotOf.set(id, slot)
    place(slot, layerOf.get(id)!)
  }
  for (let i = 0; i < layers.length; i++) layers[i] ??= []

  // 2. edges, with a dummy per crossed layer
  interface Pending {
    readonly from: string
    readonly to: string
    readonly operation: string
    readonly chain: ReadonlyArray<Slot>
  }
  const pending: Array<Pending> = []
  for (const input of given.values()) {
    for (const parent of new Set(input.parents)) {
      const a = layerOf.get(parent)!
      const b = layerOf.get(input.id)!
      const chain: Array<Slot> = [slotOf.get(parent)!]
      for (let layer = a + 1; layer < b; layer++) {
        const dummy: Slot = {
          key: `${parent}>${input.id}@${layer}`,
          width: geometry.dummy,
          node: undefined,
          edge: pending.length,
          up: [],
          down: [],
          order: 0,
          x: 0
        }
        place(dummy, layer)
        chain.push(dummy)
      }
      chain.push(slotOf.get(input.id)!)
      if (b > a) {
        for (let i = 1; i < chain.length; i++) {
          chain[i - 1]!.down.push(chain[i]!)
          chain[i]!.up.push(chain[i - 1]!)
        }
      }
      pending.push({ from: parent, to: input.id, operation: input.operation ?? "fork", chain })
    }
  }

  // 3. order: barycentre sweeps
  const barycentre = (slot: Slot, side: "up" | "down") => {
    const near = slot[side]
    if (near.length === 0) return slot.order
    let sum = 0
    for (const other of near) sum += other.order
    return sum / near.length
  }
  const sortLayer = (row: Array<Slot>, side: "up" | "down") => {
    const keyed = row.map((slot) => [barycentre(slot, side), slot.order, slot] as const)
    keyed.sort((p, q) => p[0] - q[0] || p[1] - q[1])
    keyed.forEach(([, , slot], i) => {
      slot.order = i
      row[i] = slot
    })
  }
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let i = 1; i < layers.length; i++) sortLayer(layers[i]!, "up")
    for (let i = layers.length - 2; i >= 0; i--) sortLayer(layers[i]!, "down")
  }

  // 4. x positions: compact, then pulled toward the neighbours, slots kept apart
  const gapOf = (a: Slot, b: Slot) => (a.node === undefined && b.node === undefined ? 8 : geometry.gapX)
  for (const row of layers) {
    let x = 0
    row.forEach((slot, i) => {
      if (i > 0) x += gapOf(row[i - 1]!, slot)
      slot.x = x
      x += slot.width
    })
  }
  const centre = (slot: Slot) => slot.x + slot.width / 2
  const pull = (row: Array<Slot>, side: "up" | "down") => {
    if (row.length === 0) return
    const wanted = row.map((slot) =>
      slot[side].length === 0
        ? centre(slot)
        : slot[side].reduce((sum, other) => sum + centre(other), 0) / slot[side].length
    )
    // left to right: as near the wish as the left neighbour allows
    const placed: Array<number> = []
    row.forEach((slot, i) => {
      const wish = wanted[i]! - slot.width / 2
      placed.push(i === 0 ? wish : Math.max(wish, placed[i - 1]! + row[i - 1]!.width + gapOf(row[i - 1]!, slot)))
    })
    // then shift the block so that, on average, slots sit where they wanted
    let drift = 0
    row.forEach((slot, i) => (drift += placed[i]! + slot.width / 2 - wanted[i]!))
    drift /= row.length
    row.forEach((slot, i) => (slot.x = placed[i]! - drift))
  }
  for (let sweep = 0; sweep < 3; sweep++) {
    for (let i = 1; i < layers.length; i++) pull(layers[i]!, "up")
    for (let i = layers.length - 2; i >= 0; i--) pull(layers[i]!, "down")
  }
  let left = Number.POSITIVE_INFINITY
  let right = Number.NEGATIVE_INFINITY
  for (const row of layers) {
    for (const slot of row) {
      left = Math.min(left, slot.x)
      right = Math.max(right, slot.x + slot.width)
    }
  }
  if (!Number.isFinite(left)) {
    left = 0
    right = 0
  }
  const shift = geometry.margin - left
  for (const row of layers) for (const slot of row) slot.x = round(slot.x + shift)
  const top = (layer: number) => geometry.margin + layer * (geometry.height + geometry.gapY)

  // 5. polylines; a node's out-edges leave its bottom side spread left to right by target x,
  // its in-edges enter its top side the same way
  const ports = (slot: Slot, list: ReadonlyArray<Slot>, other: Slot) => {
    const sorted = [...new Set(list)].sort((a, b) => a.x - b.x)
    const i = sorted.indexOf(other)
    return round(slot.x + (slot.width * (i + 1)) / (sorted.length + 1))
  }
  const edges: Array<Edge> = pending.map((edge) => {
    const source = edge.chain[0]!
    const target = edge.chain[edge.chain.length - 1]!
    const a = layerOf.get(edge.from)!
    const b = layerOf.get(edge.to)!
    const kind = edge.operation === "merge" ? "merge" as const : "fork" as const
    if (b <= a) {
      // a back edge of a cycle: drawn straight, the data is invalid anyway
      return {
        from: edge.from,
        to: edge.to,
        kind,
        operation: edge.operation,
        points: [[centre(source), top(a)], [centre(target), top(b) + geometry.height]]
      }
    }
    const points: Array<readonly [number, number]> = [[
      ports(source, source.down, edge.chain[1]!),
      top(a) + geometry.height
    ]]
    for (let i = 1; i < edge.chain.length - 1; i++) {
      const x = round(centre(edge.chain[i]!))
      points.push([x, top(a + i)], [x, top(a + i) + geometry.height])
    }
    points.push([ports(target, target.up, edge.chain[edge.chain.length - 2]!), top(b)])
    return { from: edge.from, to: edge.to, kind, operation: edge.operation, points }
  })

  const nodes: Array<Node> = ids.map((id) => {
    const slot = slotOf.get(id)!
    const input = given.get(id)
    const layer = layerOf.get(id)!
    return {
      id,
      x: slot.x,
      y: top(layer),
      width: geometry.width,
      height: geometry.height,
      label: input?.label ?? (input === undefined ? "not loaded" : input.operation ?? id),
      status: input === undefined ? "missing" : input.status ?? "idle",
      layer,
      missing: input === undefined
    }
  })
  return {
    width: round(right - left + 2 * geometry.margin),
    height: layers.length === 0 ? 2 * geometry.margin : top(layers.length) - geometry.gapY + geometry.margin,
    nodes,
    edges
  }
}

/**
 * The SVG path of an edge: between layers (where no box is) a curve that leaves and arrives
 * vertically, and whose control points stay inside the gap, so the curve does too; across a layer
 * band a straight vertical line through the dummy's own slot.
 */
export const pathOf = (points: ReadonlyArray<readonly [number, number]>): string => {
  if (points.length === 0) return ""
  let d = `M${points[0]![0]},${points[0]![1]}`
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1]!
    const [x1, y1] = points[i]!
    if (x0 === x1 || y1 <= y0) d += ` L${x1},${y1}`
    else {
      const mid = round((y0 + y1) / 2)
      d += ` C${x0},${mid} ${x1},${mid} ${x1},${y1}`
    }
  }
  return d
}
