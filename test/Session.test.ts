import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Equal, FastCheck as fc, Hash, Option, TestClock } from "effect"
import { Entry, IdGenerator, Placement, Session } from "rath"

const sequential = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.provideService(self, IdGenerator.IdGenerator, IdGenerator.sequential())

const texts = (session: Session.Session) => Chunk.toReadonlyArray(Session.entries(session)).map(Entry.summary)

const usage = (input: number, output: number): Entry.Usage => ({
  inputTokens: input,
  outputTokens: output,
  totalTokens: input + output
})

const draftArbitrary: fc.Arbitrary<Entry.Draft> = fc.oneof(
  fc.string({ maxLength: 20 }).map((text) => Entry.user(text)),
  fc.record({ text: fc.string({ maxLength: 20 }), input: fc.nat(100), output: fc.nat(100) }).map((r) =>
    Entry.assistant({ text: r.text, usage: usage(r.input, r.output) })
  ),
  fc.tuple(fc.string({ maxLength: 10 }), fc.boolean()).map(([name, passed]) => Entry.check(name, passed)),
  fc.tuple(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 })).map(([type, data]) => Entry.custom(type, data))
)

describe("Session constructors", () => {
  it.effect("fromUserMessage makes a root session with one user entry", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(1234)
      const session = yield* Session.fromUserMessage("hello")
      assert.strictEqual(session.id, "s_000001")
      assert.strictEqual(session.length, 1)
      assert.deepStrictEqual(session.lineage, { operation: "root", parents: [], createdAt: 1234 })
      const [entry] = Chunk.toReadonlyArray(Session.entries(session))
      assert.strictEqual(entry?._tag, "User")
      assert.strictEqual(entry?.id, "e_000001")
      assert.strictEqual(entry?.timestamp, 1234)
      assert.deepStrictEqual(entry?.author, { kind: "user", name: "user" })
      assert.deepStrictEqual(entry?.parents, [])
    }).pipe(sequential))

  it.effect("fromAgentPrompt authors the system entry by the agent", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromAgentPrompt({ instructions: "Be brief.", message: "hi", agent: "planner" })
      const [system, user] = Chunk.toReadonlyArray(Session.entries(session))
      assert.strictEqual(system?._tag, "System")
      assert.deepStrictEqual(system?.author, { kind: "agent", name: "planner" })
      assert.strictEqual(user?._tag, "User")
      assert.deepStrictEqual(user?.parents, [system!.id])
    }).pipe(sequential))

  it.effect("empty has no entries and no head", () =>
    Effect.gen(function*() {
      const session = yield* Session.empty()
      assert.strictEqual(session.length, 0)
      assert.isTrue(Option.isNone(Session.head(session)))
      assert.strictEqual(Chunk.size(Session.transcript(session)), 0)
    }))

  it.effect("the default generator never repeats an id for two appends to one value", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("base")
      const a = yield* Session.append(session, Entry.user("same"))
      const b = yield* Session.append(session, Entry.user("same"))
      const headA = Option.getOrThrow(Session.head(a))
      const headB = Option.getOrThrow(Session.head(b))
      assert.notStrictEqual(headA.id, headB.id)
      assert.deepStrictEqual(headA.parents, headB.parents)
    }))

  it.effect("CurrentAuthor authors drafts that name no author", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("hi").pipe(
        Effect.flatMap(Session.append(Entry.assistant({ text: "ok" }))),
        Effect.provideService(Entry.CurrentAuthor, { kind: "agent", name: "coder" })
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(Session.entries(session)).map((e) => e.author.name), [
        "coder",
        "coder"
      ])
    }))

  it.effect("unsafeAppendOn / unsafeStepOn mint on the fiber as append / step do, or defer to them", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(5000)
      const session = yield* Session.fromUserMessage("base")
      const fiber = yield* Effect.withFiberRuntime<Session.Minter>((fiber) => Effect.succeed(fiber))
      // the default generator: at once, with the fiber's clock, current author and the parent
      const coder: Entry.Author = { kind: "agent", name: "coder" }
      const appended = yield* Effect.withFiberRuntime<Session.Session | undefined>((fiber) =>
        Effect.succeed(Session.unsafeAppendOn(fiber, session, Entry.assistant({ text: "ok" })))
      ).pipe(Effect.provideService(Entry.CurrentAuthor, coder))
      assert.isDefined(appended)
      const head = Option.getOrThrow(Session.head(appended!))
      assert.match(head.id, /^e_[0-9a-z]{19}$/)
      assert.notStrictEqual(head.id, Option.getOrThrow(Session.head(session)).id)
      assert.strictEqual(head.timestamp, 5000)
      assert.deepStrictEqual(head.author, coder)
      assert.deepStrictEqual(head.parents, [Option.getOrThrow(Session.head(session)).id])
      assert.strictEqual(appended!.id, session.id)
      assert.deepStrictEqual(texts(appended!), [...texts(session), "ok"])
      const stepped = Session.unsafeStepOn(fiber, session, coder)
      assert.isDefined(stepped)
      assert.match(stepped!.id, /^s_[0-9a-z]{19}$/)
      assert.deepStrictEqual(stepped!.lineage, { operation: "step", parents: [session.id], by: coder, createdAt: 5000 })
      assert.strictEqual(stepped!.node, session.node)
      // another generator needs its effect: both give undefined, and append / step are used instead
      const deferred = yield* Effect.withFiberRuntime((fiber) =>
        Effect.succeed([
          Session.unsafeAppendOn(fiber, session, Entry.user("x")),
          Session.unsafeStepOn(fiber, session, coder)
        ])
      ).pipe(sequential)
      assert.deepStrictEqual(deferred, [undefined, undefined])
    }))
})

describe("Session structure", () => {
  it.effect("append shares the history and leaves the input unchanged", () =>
    Effect.gen(function*() {
      const a = yield* Session.fromUserMessage("one")
      const b = yield* Session.append(a, Entry.assistant({ text: "two" }))
      assert.strictEqual(a.length, 1)
      assert.strictEqual(b.length, 2)
      assert.strictEqual(b.node?.prev, a.node)
      assert.deepStrictEqual(Option.getOrThrow(Session.head(b)).parents, [Option.getOrThrow(Session.head(a)).id])
      assert.deepStrictEqual(texts(a), ["one"])
    }).pipe(sequential))

  it.effect("fork keeps the entries, shares them in memory, and records parent and operation", () =>
    Effect.gen(function*() {
      const parent = yield* Session.make([Entry.user("q"), Entry.assistant({ text: "a", usage: usage(10, 5) })])
      const child = yield* Session.fork(parent)
      assert.notStrictEqual(child.id, parent.id)
      assert.strictEqual(child.node, parent.node)
      assert.deepStrictEqual(child.lineage.parents, [parent.id])
      assert.strictEqual(child.lineage.operation, "fork")
      assert.deepStrictEqual(texts(child), texts(parent))
      // usage: nothing of the child's own yet, all of it inclusive
      assert.isUndefined(Session.usage(child).own)
      assert.deepStrictEqual(Session.usage(child).inclusive, usage(10, 5))
      const grown = yield* Session.append(child, Entry.assistant({ text: "b", usage: usage(1, 1) }))
      assert.deepStrictEqual(Session.usage(grown).own, usage(1, 1))
      assert.deepStrictEqual(Session.usage(grown).inclusive, usage(11, 6))
    }).pipe(sequential))

  it.effect("detach copies the entries and has no parents", () =>
    Effect.gen(function*() {
      const parent = yield* Session.make([Entry.user("q"), Entry.assistant({ text: "a" })])
      const detached = yield* Session.detach(parent)
      assert.strictEqual(detached.lineage.operation, "detach")
      assert.deepStrictEqual(detached.lineage.parents, [])
      assert.deepStrictEqual(texts(detached), texts(parent))
    }).pipe(sequential))

  it.effect("step records the author that made it", () =>
    Effect.gen(function*() {
      const parent = yield* Session.fromUserMessage("q")
      const stepped = yield* Session.step(parent, { kind: "workflow", name: "review" })
      assert.strictEqual(stepped.lineage.operation, "step")
      assert.deepStrictEqual(stepped.lineage.by, { kind: "workflow", name: "review" })
      assert.deepStrictEqual(stepped.lineage.parents, [parent.id])
    }).pipe(sequential))

  it.effect("merge: common history once, then each side's own entries, then a Merge entry", () =>
    Effect.gen(function*() {
      const base = yield* Session.make([Entry.user("task"), Entry.assistant({ text: "plan", usage: usage(1, 1) })])
      const a = yield* Session.fork(base).pipe(
        Effect.flatMap(Session.append(Entry.assistant({ text: "attempt A", usage: usage(2, 2) })))
      )
      const b = yield* Session.fork(base).pipe(
        Effect.flatMap(
          Session.appendAll([Entry.assistant({ text: "attempt B", usage: usage(3, 3) }), Entry.check("tests", true)])
        )
      )
      const merged = yield* Session.merge(a, b)
      assert.deepStrictEqual(texts(merged).slice(0, 5), [
        "task",
        "plan",
        "attempt A",
        "attempt B",
        "check tests passed"
      ])
      const last = Option.getOrThrow(Session.head(merged))
      assert.strictEqual(last._tag, "Merge")
      assert.deepStrictEqual(last.parents, [
        Option.getOrThrow(Session.head(a)).id,
        Option.getOrThrow(Session.head(b)).id
      ])
      assert.deepStrictEqual(merged.lineage.parents, [a.id, b.id])
      assert.strictEqual(merged.lineage.operation, "merge")
      assert.deepStrictEqual(Session.usage(merged).inclusive, usage(6, 6))
      assert.deepStrictEqual(Session.usage(merged).own, usage(5, 5))
      // the merged chain shares a's nodes
      let node = merged.node
      while (node !== undefined && node.length > a.length) node = node.prev
      assert.strictEqual(node, a.node)
    }).pipe(sequential))

  it.effect("merge of two unbound sessions on different backends fails with a typed error", () =>
    Effect.gen(function*() {
      const a = yield* Session.fromUserMessage("a", { placement: Placement.make({ backend: "local" }) })
      const b = yield* Session.fromUserMessage("b", { placement: Placement.make({ backend: "bwrap" }) })
      const error = yield* Effect.flip(Session.merge(a, b))
      assert.strictEqual(error._tag, "SessionError")
      assert.strictEqual(error.reason, "IncompatiblePlacement")
      assert.match(error.message, /local/)
      assert.match(error.message, /bwrap/)
    }))

  it.effect("merge of two different bound sandboxes fails; an unplaced side takes the other's placement", () =>
    Effect.gen(function*() {
      const one = Placement.make({ backend: "local", id: "sbx_1" })
      const two = Placement.make({ backend: "local", id: "sbx_2" })
      const a = yield* Session.fromUserMessage("a", { placement: one })
      const b = yield* Session.fromUserMessage("b", { placement: two })
      const c = yield* Session.fromUserMessage("c")
      assert.strictEqual((yield* Effect.flip(Session.merge(a, b))).reason, "IncompatiblePlacement")
      const merged = yield* Session.merge(c, a)
      assert.isTrue(Equal.equals(merged.placement, Option.some(one)))
    }))

  it.effect("to binds a placement as data and records the move", () =>
    Effect.gen(function*() {
      const first = Placement.make({ backend: "local" })
      const second = Placement.make({ backend: "bwrap", id: "sbx_9", workspace: "/tmp/ws" })
      const placed = yield* Session.fromUserMessage("hi").pipe(Effect.flatMap(Session.to(first)))
      const moved = yield* Session.to(placed, second)
      assert.isTrue(Equal.equals(Session.placement(moved), Option.some(second)))
      const entry = Option.getOrThrow(Session.lastOf(moved, "Placement"))
      assert.isTrue(Equal.equals(entry.placement, second))
      assert.isTrue(Equal.equals(entry.previous, first))
      assert.isTrue(Equal.equals(Session.placement(placed), Option.some(first)))
    }))

  it("usage sums with none + x = x in both orders", () => {
    const x = usage(3, 4)
    assert.deepStrictEqual(Entry.sumUsage(undefined, x), x)
    assert.deepStrictEqual(Entry.sumUsage(x, undefined), x)
    assert.isUndefined(Entry.sumUsage(undefined, undefined))
    assert.deepStrictEqual(Entry.sumUsage(x, { ...x, cachedInputTokens: 2 }), { ...usage(6, 8), cachedInputTokens: 2 })
  })
})

describe("Session.transcript", () => {
  it.effect("sends messages only, and a compression stands for the entries it covers", () =>
    Effect.gen(function*() {
      const session = yield* Session.make([
        Entry.system("rules"),
        Entry.user("q1"),
        Entry.assistant({ text: "a1" }),
        Entry.custom("note", { x: 1 }),
        Entry.user("q2"),
        Entry.assistant({ text: "a2" })
      ])
      const all = Chunk.toReadonlyArray(Session.entries(session))
      const compressed = yield* Session.append(
        session,
        Entry.compression({ covers: [all[1]!.id, all[2]!.id, all[4]!.id], text: "asked twice" })
      )
      const sent = Chunk.toReadonlyArray(Session.transcript(compressed)).map(Entry.summary)
      assert.deepStrictEqual(sent, ["rules", "summary of 3 entries: asked twice", "a2"])
      // the original entries stay as evidence
      assert.strictEqual(compressed.length, 7)
      assert.deepStrictEqual(texts(compressed).slice(1, 3), ["q1", "a1"])
    }).pipe(sequential))

  it.effect("a compression covered by a later one is left out", () =>
    Effect.gen(function*() {
      const session = yield* Session.make([Entry.user("q1"), Entry.assistant({ text: "a1" })])
      const [q1, a1] = Chunk.toReadonlyArray(Session.entries(session))
      const once = yield* Session.append(session, Entry.compression({ covers: [q1!.id, a1!.id], text: "first" }))
      const first = Option.getOrThrow(Session.head(once))
      const more = yield* Session.append(once, Entry.user("q2"))
      const twice = yield* Session.append(
        more,
        Entry.compression({ covers: [first.id, Option.getOrThrow(Session.head(more)).id], text: "second" })
      )
      const sent = Chunk.toReadonlyArray(Session.transcript(twice)).map(Entry.summary)
      assert.deepStrictEqual(sent, ["summary of 2 entries: second"])
    }).pipe(sequential))
})

describe("Session equality and inspection", () => {
  it.effect("equal by content: a decoded copy is equal and hashes alike; another id is not equal", () =>
    Effect.gen(function*() {
      const session = yield* Session.make([Entry.user("hi"), Entry.assistant({ text: "hello", usage: usage(1, 2) })])
      const { session: copy } = yield* Session.fromJsonl(Session.toJsonl(session))
      assert.notStrictEqual(copy.node, session.node)
      assert.isTrue(Equal.equals(copy, session))
      assert.strictEqual(Hash.hash(copy), Hash.hash(session))
      const fork = yield* Session.fork(session)
      assert.isFalse(Equal.equals(fork, session))
      const longer = yield* Session.append(session, Entry.user("more"))
      assert.isFalse(Equal.equals(longer, session))
    }).pipe(sequential))

  it.effect("toString shows the first and last entries and shortens long texts in the middle", () =>
    Effect.gen(function*() {
      const long = "x".repeat(50) + "MIDDLE" + "y".repeat(50)
      const session = yield* Session.make([
        Entry.user(long),
        ...Array.from({ length: 10 }, (_, i) => Entry.assistant({ text: `answer ${i}` }))
      ])
      const text = String(session)
      assert.match(text, /^Session\(s_000001, 11 entries, root\)/)
      assert.include(text, "#0 User [user:user] xxxx")
      assert.notInclude(text, "MIDDLE")
      assert.include(text, "... 5 more ...")
      assert.include(text, "#10 Assistant")
      assert.notInclude(text, "answer 3")
      const json = session.toJSON() as { entries: Array<unknown> }
      assert.strictEqual(json.entries.length, 11)
    }).pipe(sequential))
})

describe("Session JSONL", () => {
  const sample = Effect.gen(function*() {
    const base = yield* Session.make([Entry.system("rules"), Entry.user("go")], {
      placement: Placement.make({ backend: "local", id: "sbx_1", workspace: "/tmp/w" })
    })
    const a = yield* Session.fork(base).pipe(Effect.flatMap(Session.append(Entry.assistant({
      text: "",
      toolCalls: [{ id: "c1", name: "write", arguments: "{\"path\":\"a\"}", parsed: { path: "a" } }],
      provider: { kind: "openai", host: "api.example", requestId: "r1" },
      model: "m",
      finishReason: "tool_calls",
      usage: usage(5, 6)
    }))))
    const withResult = yield* Session.append(
      a,
      Entry.toolResult({
        callId: "c1",
        toolName: "write",
        output: { bytes: 3 },
        durationMs: 4,
        sandbox: Placement.make({ backend: "local", id: "sbx_1" }),
        effects: [{ op: "write", path: "/tmp/w/a", bytes: 3 }]
      })
    )
    const b = yield* Session.fork(base).pipe(Effect.flatMap(Session.append(Entry.memory({
      operation: "recall",
      store: "sqlite",
      namespace: "user:1",
      query: "go",
      hits: [{ id: "m1", score: 0.5 }]
    }))))
    return yield* Session.merge(withResult, b)
  }).pipe(sequential)

  it.effect("round-trips exactly, with a header, one line per entry and a trailer", () =>
    Effect.gen(function*() {
      const session = yield* sample
      const text = Session.toJsonl(session)
      const lines = text.trimEnd().split("\n")
      assert.strictEqual(lines.length, session.length + 2)
      assert.strictEqual(JSON.parse(lines[0]!).format, "rath.session")
      assert.strictEqual(JSON.parse(lines[0]!).version, Session.JSONL_VERSION)
      assert.match(JSON.parse(lines[lines.length - 1]!).checksum, /^sha256:[0-9a-f]{64}$/)
      const decoded = yield* Session.fromJsonl(text)
      assert.isTrue(decoded.closed)
      assert.strictEqual(decoded.droppedLines, 0)
      assert.isTrue(Equal.equals(decoded.session, session))
      assert.strictEqual(Session.toJsonl(decoded.session), text)
    }))

  it.effect("a torn last line is dropped and reported; the intact prefix loads", () =>
    Effect.gen(function*() {
      const session = yield* sample
      const lines = Session.toJsonl(session).trimEnd().split("\n")
      // a crash in the middle of writing entry 3: lines 0..2 intact, line 3 cut, no trailer
      const torn = lines.slice(0, 3).join("\n") + "\n" + lines[3]!.slice(0, 25)
      const decoded = yield* Session.fromJsonl(torn)
      assert.isFalse(decoded.closed)
      assert.strictEqual(decoded.droppedLines, 1)
      assert.strictEqual(decoded.session.length, 2)
      // a file that simply stops before its trailer is intact but not closed
      const unclosed = yield* Session.fromJsonl(lines.slice(0, 4).join("\n") + "\n")
      assert.isFalse(unclosed.closed)
      assert.strictEqual(unclosed.droppedLines, 0)
      assert.strictEqual(unclosed.session.length, 3)
    }))

  it.effect("a damaged trailer that ends with its newline is an error, not a torn tail (issue 19)", () =>
    Effect.gen(function*() {
      const session = yield* sample
      const lines = Session.toJsonl(session).trimEnd().split("\n")
      const last = lines.length
      // one entry changed (still a valid entry) and the trailer damaged: the checksum would catch
      // the entry, so the trailer must not be dropped as a torn write
      const changed = lines.map((line, i) => i === 1 ? line.replace("\"text\":\"", "\"text\":\"X") : line)
      assert.notStrictEqual(changed[1], lines[1])
      const damaged = [...changed.slice(0, -1), changed[last - 1]!.slice(0, -1) + ","].join("\n") + "\n"
      const error = yield* Effect.flip(Session.fromJsonl(damaged))
      assert.strictEqual(error.reason, "CorruptLine")
      assert.strictEqual(error.line, last)
      assert.include(error.message, "not torn")
      // the same cut without its newline is a torn write: the prefix loads, not closed
      const torn = yield* Session.fromJsonl([...lines.slice(0, -1), lines[last - 1]!.slice(0, -3)].join("\n"))
      assert.isFalse(torn.closed)
      assert.strictEqual(torn.droppedLines, 1)
      assert.strictEqual(torn.session.length, session.length)
      // a torn line that happens to be valid JSON is still torn
      const tornJson = yield* Session.fromJsonl(lines.slice(0, 3).join("\n") + "\n12")
      assert.strictEqual(tornJson.droppedLines, 1)
      assert.strictEqual(tornJson.session.length, 2)
      // a complete, damaged last entry line (no trailer) is an error too
      const entryLine = yield* Effect.flip(Session.fromJsonl(lines.slice(0, 3).join("\n") + "\n{\"_tag\n"))
      assert.strictEqual(entryLine.reason, "CorruptLine")
      assert.strictEqual(entryLine.line, 4)
    }))

  it.effect("a corrupt line in the middle is an error naming the line", () =>
    Effect.gen(function*() {
      const lines = Session.toJsonl(yield* sample).trimEnd().split("\n")
      const broken = [...lines.slice(0, 2), "{oops", ...lines.slice(3)].join("\n")
      const error = yield* Effect.flip(Session.fromJsonl(broken))
      assert.strictEqual(error.reason, "CorruptLine")
      assert.strictEqual(error.line, 3)
      const invalid = [...lines.slice(0, 2), JSON.stringify({ _tag: "User", text: 1 }), ...lines.slice(3)].join("\n")
      const invalidError = yield* Effect.flip(Session.fromJsonl(invalid))
      assert.strictEqual(invalidError.reason, "CorruptLine")
      assert.strictEqual(invalidError.line, 3)
    }))

  it.effect("a changed line fails the checksum; a wrong count fails the count", () =>
    Effect.gen(function*() {
      const lines = Session.toJsonl(yield* sample).trimEnd().split("\n")
      const tampered = [...lines]
      tampered[2] = tampered[2]!.replace("\"go\"", "\"GO\"")
      const error = yield* Effect.flip(Session.fromJsonl(tampered.join("\n")))
      assert.strictEqual(error.reason, "ChecksumMismatch")
      const short = [...lines.slice(0, 2), ...lines.slice(3)].join("\n")
      assert.strictEqual((yield* Effect.flip(Session.fromJsonl(short))).reason, "CountMismatch")
    }))

  it.effect("refuses a newer format version and migrates an older one through the hook", () =>
    Effect.gen(function*() {
      const text = Session.toJsonl(yield* sample)
      const lines = text.trimEnd().split("\n")
      const header = JSON.parse(lines[0]!)
      const future = [JSON.stringify({ ...header, version: 99 }), ...lines.slice(1)].join("\n")
      const error = yield* Effect.flip(Session.fromJsonl(future))
      assert.strictEqual(error.reason, "UnsupportedVersion")
      assert.match(error.message, /newer rath/)
      // a version-0 file, where user entries were called "Human": no migration, no read
      const old = [
        JSON.stringify({ ...header, version: 0 }),
        ...lines.slice(1, -1).map((line) => line.replace("\"_tag\":\"User\"", "\"_tag\":\"Human\""))
      ].join("\n")
      assert.strictEqual((yield* Effect.flip(Session.fromJsonl(old))).reason, "UnsupportedVersion")
      const migrated = yield* Session.fromJsonl(old, {
        migrations: [{
          from: 0,
          entry: (entry) => {
            const record = entry as Record<string, unknown>
            return record._tag === "Human" ? { ...record, _tag: "User" } : record
          }
        }]
      })
      assert.strictEqual(Chunk.toReadonlyArray(Session.entries(migrated.session))[1]?._tag, "User")
    }))

  it.effect("an empty file or a file without header is refused", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* Effect.flip(Session.fromJsonl(""))).reason, "MissingHeader")
      assert.strictEqual((yield* Effect.flip(Session.fromJsonl("{\"a\":1}\n"))).reason, "MissingHeader")
    }))

  it("fromEntries refuses a duplicate id or a parent that is not an earlier entry", () => {
    const author = { kind: "user", name: "u" } as const
    const e1 = new Entry.User({ id: Entry.EntryId.make("e1"), timestamp: 0, author, parents: [], text: "a" })
    const e2 = new Entry.User({
      id: Entry.EntryId.make("e2"),
      timestamp: 0,
      author,
      parents: [Entry.EntryId.make("e9")],
      text: "b"
    })
    const meta = { id: Session.SessionId.make("s"), lineage: { operation: "root", parents: [], createdAt: 0 } } as const
    const dup = Session.fromEntries(meta, [e1, e1])
    assert.isTrue(dup._tag === "Left" && dup.left.reason === "InvalidHistory")
    const orphan = Session.fromEntries(meta, [e1, e2])
    assert.isTrue(orphan._tag === "Left" && /e9/.test(orphan.left.detail))
  })
})

describe("Session laws", () => {
  it.effect.prop(
    "JSONL decode(encode(s)) equals s, and equal sessions hash alike",
    [Session.SessionFromSelf],
    ([s]) =>
      Effect.gen(function*() {
        const { closed, session } = yield* Session.fromJsonl(Session.toJsonl(s))
        assert.isTrue(closed)
        assert.isTrue(Equal.equals(session, s))
        assert.strictEqual(Hash.hash(session), Hash.hash(s))
      })
  )

  it.effect.prop(
    "operations never mutate their input",
    [Session.SessionFromSelf, draftArbitrary],
    ([s, draft]) =>
      Effect.gen(function*() {
        const before = Session.toJsonl(s)
        const appended = yield* Session.append(s, draft)
        const forked = yield* Session.fork(s)
        yield* Session.merge(appended, yield* Session.append(forked, draft))
        yield* Session.detach(s)
        Session.transcript(appended)
        assert.strictEqual(Session.toJsonl(s), before)
      }).pipe(sequential)
  )

  it.effect.prop("dual forms agree", [Session.SessionFromSelf, draftArbitrary], ([s, draft]) =>
    Effect.gen(function*() {
      const dataFirst = yield* sequential(Session.append(s, draft))
      const dataLast = yield* sequential(s.pipe(Session.append(draft)))
      assert.isTrue(Equal.equals(dataFirst, dataLast))
      const forkA = yield* sequential(Session.fork(s))
      const mergedFirst = yield* sequential(Session.merge(dataFirst, forkA))
      const mergedLast = yield* sequential(dataFirst.pipe(Session.merge(forkA)))
      assert.isTrue(Equal.equals(mergedFirst, mergedLast))
    }))

  it.effect.prop(
    "merge(fork(s)+a, fork(s)+b) holds s's entries once and both a and b; fork keeps the parent's entries",
    [Session.SessionFromSelf, fc.array(draftArbitrary, { maxLength: 4 }), fc.array(draftArbitrary, { maxLength: 4 })],
    ([s, as, bs]) =>
      Effect.gen(function*() {
        const left = yield* Session.fork(s)
        assert.deepStrictEqual(Chunk.toReadonlyArray(Session.entries(left)), Chunk.toReadonlyArray(Session.entries(s)))
        const a = yield* Session.appendAll(left, as)
        const b = yield* Session.fork(s).pipe(Effect.flatMap(Session.appendAll(bs)))
        const merged = yield* Session.merge(a, b)
        const ids = Chunk.toReadonlyArray(Session.entries(merged)).map((entry) => entry.id)
        assert.strictEqual(new Set(ids).size, ids.length)
        assert.strictEqual(ids.length, s.length + as.length + bs.length + 1)
        const own = (x: Session.Session) => Chunk.toReadonlyArray(Session.entries(x)).map((entry) => entry.id)
        for (const id of [...own(s), ...own(a), ...own(b)]) assert.include(ids, id)
      }).pipe(sequential)
  )
})

describe("Session.append entries", () => {
  it.effect("are instances of their kind's class, with the fields in their recorded order", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("hi").pipe(
        Effect.flatMap(Session.append(Entry.assistant({ text: "x" }))),
        Effect.flatMap(Session.append(Entry.toolResult({ callId: "c1", toolName: "add", output: 2 })))
      )
      const [user, assistant, result] = Chunk.toReadonlyArray(Session.entries(session))
      assert.strictEqual(Object.getPrototypeOf(user), Entry.User.prototype)
      assert.strictEqual(Object.getPrototypeOf(assistant), Entry.Assistant.prototype)
      assert.isTrue(result instanceof Entry.ToolResult)
      assert.strictEqual(assistant!.constructor, Entry.Assistant)
      assert.deepStrictEqual(Object.keys(assistant!), [
        "id",
        "timestamp",
        "author",
        "parents",
        "toolCalls",
        "text",
        "_tag"
      ])
      assert.deepStrictEqual(Object.keys(result!), [
        "id",
        "timestamp",
        "author",
        "parents",
        "durationMs",
        "callId",
        "toolName",
        "output",
        "_tag"
      ])
    }))
})
