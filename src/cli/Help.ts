/**
 * The help pages and command-line checks of `rath`, in place of @effect/cli's own: pages that fit
 * in 100 columns, carry no filler text ("A true or false value.", "This setting is optional."),
 * and use ANSI bold only on a terminal; and a scan of the command line that names an unknown flag
 * as the flag, an unknown command as the command, and turns the parser's own errors into one
 * `rath:` line that says where to look.
 *
 * @since 0.1.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import type * as Usage from "@effect/cli/Usage"
import type * as ValidationError from "@effect/cli/ValidationError"
import * as Option from "effect/Option"

/**
 * The widest line a help page prints.
 *
 * @since 0.1.0
 * @category models
 */
export const width = 100

const config = CliConfig.make({ showBuiltIns: false, showAllNames: true, showTypes: true })

type Command = Descriptor.Command<unknown>

const spanText = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Highlight":
    case "Strong":
    case "Weak":
      return spanText(span.value)
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
  }
}

/**
 * The plain text of a help document (an error of the parser, say), paragraphs joined by a space.
 *
 * @since 0.1.0
 * @category getters
 */
export const docText = (doc: HelpDoc.HelpDoc): string => {
  switch (doc._tag) {
    case "Empty":
      return ""
    case "Header":
    case "Paragraph":
      return spanText(doc.value)
    case "DescriptionList":
      return doc.definitions.map(([term, body]) => `${spanText(term)} ${docText(body)}`).join(" ")
    case "Enumeration":
      return doc.elements.map(docText).join(" ")
    case "Sequence":
      return [docText(doc.left), docText(doc.right)].filter((text) => text !== "").join(" ")
  }
}

const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> => {
  switch (doc._tag) {
    case "Empty":
      return []
    case "Sequence":
      return [...paragraphs(doc.left), ...paragraphs(doc.right)]
    default:
      return [docText(doc)]
  }
}

/** What @effect/cli says about every option of a type: nothing a reader of rath's help needs. */
const filler =
  /^(A true or false value\.|An integer\.|A floating point number\.|A user-defined piece of text( that is confidential)?\.|One of the following: .*|An existing (file|directory|file or directory)\.|A (file|directory|file or directory)( that must not exist)?\.|This setting is optional\.|This setting is a property argument which:|This option can be set from environment variables\.)$/

/** Wraps `text` to `width` columns, every line indented by `indent`. */
const wrap = (text: string, indent: number, columns = width): Array<string> => {
  const pad = " ".repeat(indent)
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent + line.length + 1 + word.length > columns) {
      lines.push(pad + line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  if (line !== "") lines.push(pad + line)
  return lines
}

/** The words of a usage line, each kept whole when the line wraps (`[--format tree | dot]`). */
const usageWords = (text: string): Array<string> => {
  const words: Array<string> = []
  let depth = 0
  let current = ""
  for (const char of text) {
    if (char === "[" || char === "(" || char === "<") depth++
    if (char === "]" || char === ")" || char === ">") depth--
    if (char === " " && depth === 0) {
      if (current !== "") words.push(current)
      current = ""
    } else {
      current += char
    }
  }
  if (current !== "") words.push(current)
  return words
}

const wrapUsage = (text: string): Array<string> => {
  const lines: Array<string> = []
  let line = "  "
  for (const word of usageWords(text)) {
    if (line.trim() !== "" && line.length + 1 + word.length > width) {
      lines.push(line)
      line = "      " + word
    } else {
      line = line.trim() === "" ? line + word : `${line} ${word}`
    }
  }
  lines.push(line)
  // a single word longer than a line (a long list of choices) is cut where it has spaces
  return lines.flatMap((l) => l.length <= width ? [l] : wrap(l.trim(), 6))
}

const nameOf = (command: Command): string => {
  const first = (u: Usage.Usage): string | undefined => {
    switch (u._tag) {
      case "Named":
        return u.names[0]
      case "Concat":
        return first(u.left) ?? first(u.right)
      default:
        return undefined
    }
  }
  return first(Descriptor.getUsage(command)) ?? ""
}

/**
 * A command and its subcommands, in the order the help lists them. Built from the `Command`
 * values themselves: a parsed descriptor does not give back the subcommands of a subcommand.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tree {
  readonly name: string
  readonly descriptor: Command
  readonly children: ReadonlyArray<Tree>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const tree = (
  command: { readonly descriptor: Descriptor.Command<any> },
  children: ReadonlyArray<Tree> = []
): Tree => ({ name: nameOf(command.descriptor), descriptor: command.descriptor, children })

const isGroup = (node: Tree): boolean => node.children.length > 0

/**
 * The command at `path` (names of subcommands below `root`), if there is one.
 *
 * @since 0.1.0
 * @category getters
 */
export const find = (root: Tree, path: ReadonlyArray<string>): Option.Option<Tree> => {
  let current = root
  for (const name of path) {
    const next = current.children.find((child) => child.name === name)
    if (next === undefined) return Option.none()
    current = next
  }
  return Option.some(current)
}

const description = (command: Command): string => {
  const walk = (doc: HelpDoc.HelpDoc, after: boolean): { found?: string; after: boolean } => {
    switch (doc._tag) {
      case "Header":
        return { after: spanText(doc.value) === "DESCRIPTION" }
      case "Paragraph":
        return after ? { found: spanText(doc.value), after: false } : { after }
      case "Sequence": {
        const left = walk(doc.left, after)
        return left.found !== undefined ? left : walk(doc.right, left.after)
      }
      default:
        return { after }
    }
  }
  return walk(Descriptor.getHelp(command, config), false).found ?? ""
}

interface Section {
  readonly title: string
  readonly body: Array<HelpDoc.HelpDoc>
}

const sections = (doc: HelpDoc.HelpDoc): Array<Section> => {
  const out: Array<Section> = []
  const walk = (d: HelpDoc.HelpDoc): void => {
    switch (d._tag) {
      case "Sequence":
        walk(d.left)
        walk(d.right)
        return
      case "Header":
        out.push({ title: spanText(d.value), body: [] })
        return
      case "Empty":
        return
      default:
        if (out.length === 0) out.push({ title: "", body: [] })
        out[out.length - 1]!.body.push(d)
    }
  }
  walk(doc)
  return out
}

const definition = (term: string, body: HelpDoc.HelpDoc): Array<string> => {
  const texts = paragraphs(body).flatMap((text) => {
    if (filler.test(text)) return []
    const defaulted = /^This setting is optional\. Defaults to: (.*)$/.exec(text)
    if (defaulted !== null) return [`(default: ${defaulted[1]})`]
    return [text]
  })
  // `(-f, --format tree | dot)` is a choice of names, not an optional group: print it bare
  const name = term.replace(/^\((.*)\)$/, "$1")
  return [...wrap(name, 2), ...wrap(texts.join(" "), 6)]
}

const builtIns: ReadonlyArray<readonly [string, string]> = [
  ["-h, --help", "show this help"],
  ["--version", "print the version of rath"],
  ["--completions sh | bash | fish | zsh", "print a completion script for a shell"]
]

/**
 * The help page of the command at `path` (`[]` for `rath` itself): usage, description, arguments,
 * options and subcommands, every line at most {@link width} columns, bold headers only when
 * `color` is set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const render = (
  root: Tree,
  path: ReadonlyArray<string>,
  options: { readonly color: boolean; readonly version: string }
): string => {
  const node = Option.getOrElse(find(root, path), () => root)
  const command = node.descriptor
  const bold = (text: string) => options.color ? `\u001b[1m${text}\u001b[0m` : text
  const prefix = ["rath", ...path.slice(0, -1)].join(" ")
  // the usage of a subcommand starts with its own name: its parents go in front
  const usage = spanText(usageSpan(Descriptor.getUsage(command))) + (isGroup(node) ? " <command> ..." : "")
  const out: Array<string> = []
  out.push(bold(`rath ${path.join(" ")}`.trim()) + (path.length === 0 ? ` ${options.version}` : ""))
  out.push("")
  out.push(bold("USAGE"))
  out.push(...wrapUsage(path.length === 0 ? usage : `${prefix} ${usage}`))
  for (const section of sections(Descriptor.getHelp(command, config))) {
    if (section.title === "COMMANDS" || section.body.length === 0) continue
    out.push("", bold(section.title))
    for (const doc of section.body) {
      if (doc._tag === "DescriptionList") {
        for (const [term, body] of doc.definitions) out.push(...definition(spanText(term), body))
      } else if (doc._tag === "Paragraph") {
        out.push(...wrap(spanText(doc.value), 2))
      }
    }
  }
  if (isGroup(node)) {
    const rows: Array<readonly [string, string]> = []
    for (const child of node.children) {
      rows.push([child.name, description(child.descriptor)])
      for (const grandchild of child.children) {
        rows.push([`${child.name} ${grandchild.name}`, description(grandchild.descriptor)])
      }
    }
    const column = Math.max(...rows.map(([name]) => name.length)) + 4
    out.push("", bold("COMMANDS"))
    for (const [name, text] of rows) {
      const lines = wrap(text, 2 + column)
      out.push(`  ${name.padEnd(column)}${(lines[0] ?? "").trimStart()}`, ...lines.slice(1))
    }
    out.push("", `Run \`${["rath", ...path].join(" ")} <command> --help\` for the options of a command.`)
  }
  out.push("", bold("GLOBAL OPTIONS"))
  for (const [term, text] of path.length === 0 ? builtIns : builtIns.slice(0, 1)) {
    out.push(...wrap(term, 2), ...wrap(text, 6))
  }
  return out.join("\n")
}

const usageSpan = (usage: Usage.Usage): Span.Span => {
  const render = (u: Usage.Usage): string => {
    switch (u._tag) {
      case "Empty":
        return ""
      case "Mixed":
        return "<command>"
      case "Named": {
        const names = u.names.join(", ")
        const value = Option.match(u.acceptedValues, { onNone: () => "", onSome: (v) => ` ${v}` })
        return u.names.length > 1 ? `(${names}${value})` : `${names}${value}`
      }
      case "Optional": {
        const inner = render(u.usage)
        return inner === "" ? "" : `[${inner.replace(/^\((.*)\)$/, "$1")}]`
      }
      case "Repeated": {
        const inner = render(u.usage)
        return inner === "" ? "" : `${inner}...`
      }
      case "Alternation":
        return `${render(u.left)} | ${render(u.right)}`
      case "Concat":
        return [render(u.left), render(u.right)].filter((s) => s !== "").join(" ")
    }
  }
  return { _tag: "Text", value: render(usage) }
}

// -----------------------------------------------------------------------------
// the command-line scan
// -----------------------------------------------------------------------------

interface Flag {
  readonly takesValue: boolean
  readonly values?: string | undefined
}

const flagsOf = (usage: Usage.Usage, into: Map<string, Flag>): Map<string, Flag> => {
  switch (usage._tag) {
    case "Named":
      if (usage.names.some((name) => name.startsWith("-"))) {
        for (const name of usage.names) {
          into.set(name, {
            takesValue: Option.isSome(usage.acceptedValues),
            values: Option.getOrUndefined(usage.acceptedValues)
          })
        }
      }
      return into
    case "Optional":
    case "Repeated":
      return flagsOf(usage.usage, into)
    case "Alternation":
    case "Concat":
      flagsOf(usage.left, into)
      return flagsOf(usage.right, into)
    default:
      return into
  }
}

const builtInFlags: ReadonlyArray<readonly [string, Flag]> = [
  ["-h", { takesValue: false }],
  ["--help", { takesValue: false }],
  ["--version", { takesValue: false }],
  ["--wizard", { takesValue: false }],
  ["--completions", { takesValue: true }],
  ["--log-level", { takesValue: true }]
]

/**
 * What a command line asks for, read before the parser runs: the command path, whether help was
 * asked for (or a group was named with nothing after it), and the first problem the parser would
 * report less clearly (an unknown flag or command).
 *
 * @since 0.1.0
 * @category models
 */
export interface Scan {
  readonly path: ReadonlyArray<string>
  readonly help: boolean
  readonly problem: Option.Option<string>
  /** The flag each value on the line was given to (`--limit abc`: `abc` -> `--limit`). */
  readonly valueOf: ReadonlyMap<string, string>
  /** The flags of the commands on the path, with the values they accept (`tree | dot`). */
  readonly flags: ReadonlyMap<string, { readonly values?: string | undefined }>
}

const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}

const suggest = (name: string, known: Iterable<string>): string => {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of known) {
    const d = distance(name, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best === undefined ? "" : ` (did you mean ${best}?)`
}

/**
 * Reads a command line (without the runtime and script) against the commands below `root`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const scan = (root: Tree, args: ReadonlyArray<string>): Scan => {
  let current = root
  const path: Array<string> = []
  const flags = new Map<string, Flag>(builtInFlags)
  flagsOf(Descriptor.getUsage(root.descriptor), flags)
  const valueOf = new Map<string, string>()
  let help = false
  let problem: Option.Option<string> = Option.none()
  let positionals = 0
  let others = 0
  const here = () => ["rath", ...path].join(" ")
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") break
    if (arg.startsWith("-") && arg !== "-" && !/^-\d/.test(arg)) {
      const name = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg
      if (name === "-h" || name === "--help") {
        help = true
        continue
      }
      if (name !== "--verbose") others++
      const flag = flags.get(name)
      if (flag === undefined) {
        if (Option.isNone(problem)) {
          problem = Option.some(
            `unknown option ${name} for ${here()}${suggest(name, flags.keys())}: see \`${here()} --help\``
          )
        }
        continue
      }
      if (flag.takesValue && !arg.includes("=") && i + 1 < args.length) {
        valueOf.set(args[i + 1]!, name)
        i++
      }
      continue
    }
    others++
    if (isGroup(current) && positionals === 0) {
      const next = current.children.find((child) => child.name === arg)
      if (next !== undefined) {
        current = next
        path.push(arg)
        flagsOf(Descriptor.getUsage(current.descriptor), flags)
        others = 0
        continue
      }
      if (Option.isNone(problem)) {
        const names = current.children.map((child) => child.name)
        problem = Option.some(
          `unknown command ${arg} for ${here()}${suggest(arg, names)}: use one of ${
            names.join(", ")
          } (see \`${here()} --help\`)`
        )
      }
    }
    positionals++
  }
  // `rath` or `rath sessions` alone: the help of that group
  if (isGroup(current) && others === 0 && Option.isNone(problem)) help = true
  return { path, help, problem, valueOf, flags }
}

/**
 * The one line for an error of @effect/cli's parser: what was wrong, in rath's words where the
 * parser's are unclear, and the help page to read.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseErrorLine = (error: ValidationError.ValidationError, scanned: Scan): string => {
  const here = ["rath", ...scanned.path].join(" ")
  const text = "error" in error ? docText(error.error).trim() : ""
  const see = `see \`${here} --help\``
  const missing = /^Missing argument (<[^>]+>)/.exec(text)
  if (missing !== null) return `missing argument ${missing[1]} for ${here}: ${see}`
  const notA = /^'([^']*)' is not an? (\w+)/.exec(text)
  if (notA !== null) {
    const flag = scanned.valueOf.get(notA[1]!)
    const kind = notA[2] === "integer" ? "an integer" : notA[2] === "float" ? "a number" : `a ${notA[2]}`
    return `${flag === undefined ? "" : `${flag} `}${notA[1]} is not ${kind}: ${see}`
  }
  const expected = /^Expected one of the following cases: (.*)$/.exec(text)
  if (expected !== null) {
    const choices = expected[1]!.split(", ").join(" | ")
    const given = Array.from(scanned.valueOf).find(([, flag]) => scanned.flags.get(flag)?.values === choices)
    return `${given === undefined ? "" : `${given[1]} ${given[0]}: `}expected one of ${expected[1]}: ${see}`
  }
  const unknown = /^Received unknown argument: '(.*)'$/.exec(text)
  if (unknown !== null) return `unexpected argument ${unknown[1]} for ${here}: ${see}`
  const body = text === "" ? "the command line is not valid" : text.charAt(0).toLowerCase() + text.slice(1)
  return `${body.replace(/\.$/, "")}: ${see}`
}
