/**
 * A small JSON Schema validator for scoring model output: the keywords a structured-output schema
 * uses (type, enum, const, properties, required, additionalProperties, items, prefixItems,
 * minItems/maxItems, minLength/maxLength, pattern, minimum/maximum, exclusiveMinimum/Maximum,
 * multipleOf, anyOf, oneOf, allOf, not, and local `$ref`s into `$defs`/`definitions`). Unknown
 * keywords are ignored, as the specification says. Returns the errors as `path: message` lines.
 */

type Json = unknown
type SchemaObject = { readonly [key: string]: Json }

const typeOf = (value: Json): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "array"
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number"
  return typeof value
}

const matchesType = (value: Json, type: string): boolean => {
  const actual = typeOf(value)
  return actual === type || (type === "number" && actual === "integer")
}

const deepEqual = (a: Json, b: Json): boolean => {
  if (Object.is(a, b)) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  return ka.length === kb.length &&
    ka.every((k) => deepEqual((a as SchemaObject)[k], (b as SchemaObject)[k]))
}

const resolveRef = (root: SchemaObject, ref: string): Json => {
  if (!ref.startsWith("#")) return undefined
  let node: Json = root
  for (const raw of ref.slice(1).split("/").filter((p) => p !== "")) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~")
    if (typeof node !== "object" || node === null) return undefined
    node = (node as SchemaObject)[part]
  }
  return node
}

/**
 * The validation errors of `value` against `schema` (empty when it is valid).
 */
export const validate = (schema: Json, value: Json): Array<string> => {
  const errors: Array<string> = []
  const root = (typeof schema === "object" && schema !== null ? schema : {}) as SchemaObject
  const go = (s: Json, v: Json, path: string, depth: number): void => {
    if (depth > 64) return void errors.push(`${path}: schema nests too deeply (a $ref cycle?)`)
    if (s === true || s === undefined) return
    if (s === false) return void errors.push(`${path}: no value is allowed here`)
    if (typeof s !== "object" || s === null) return
    const o = s as SchemaObject
    if (typeof o.$ref === "string") {
      const target = resolveRef(root, o.$ref)
      if (target === undefined) errors.push(`${path}: unresolved $ref ${o.$ref}`)
      else go(target, v, path, depth + 1)
    }
    if (o.type !== undefined) {
      const types = Array.isArray(o.type) ? o.type as Array<string> : [o.type as string]
      if (!types.some((t) => matchesType(v, t))) {
        return void errors.push(`${path}: expected ${types.join(" or ")}, got ${typeOf(v)}`)
      }
    }
    if (Array.isArray(o.enum) && !o.enum.some((e) => deepEqual(e, v))) {
      errors.push(`${path}: must be one of ${JSON.stringify(o.enum)}`)
    }
    if ("const" in o && !deepEqual(o.const, v)) errors.push(`${path}: must be ${JSON.stringify(o.const)}`)
    if (typeof v === "string") {
      const length = [...v].length
      if (typeof o.minLength === "number" && length < o.minLength) {
        errors.push(`${path}: shorter than ${o.minLength} characters`)
      }
      if (typeof o.maxLength === "number" && length > o.maxLength) {
        errors.push(`${path}: longer than ${o.maxLength} characters`)
      }
      if (typeof o.pattern === "string") {
        let re: RegExp | undefined
        try {
          re = new RegExp(o.pattern, "u")
        } catch {
          errors.push(`${path}: invalid pattern ${o.pattern}`)
        }
        if (re !== undefined && !re.test(v)) errors.push(`${path}: does not match ${o.pattern}`)
      }
    }
    if (typeof v === "number") {
      if (typeof o.minimum === "number" && v < o.minimum) errors.push(`${path}: less than ${o.minimum}`)
      if (typeof o.maximum === "number" && v > o.maximum) errors.push(`${path}: greater than ${o.maximum}`)
      if (typeof o.exclusiveMinimum === "number" && v <= o.exclusiveMinimum) {
        errors.push(`${path}: not greater than ${o.exclusiveMinimum}`)
      }
      if (typeof o.exclusiveMaximum === "number" && v >= o.exclusiveMaximum) {
        errors.push(`${path}: not less than ${o.exclusiveMaximum}`)
      }
      if (typeof o.multipleOf === "number" && o.multipleOf > 0) {
        const q = v / o.multipleOf
        if (Math.abs(q - Math.round(q)) > 1e-9) errors.push(`${path}: not a multiple of ${o.multipleOf}`)
      }
    }
    if (Array.isArray(v)) {
      if (typeof o.minItems === "number" && v.length < o.minItems) {
        errors.push(`${path}: fewer than ${o.minItems} items`)
      }
      if (typeof o.maxItems === "number" && v.length > o.maxItems) errors.push(`${path}: more than ${o.maxItems} items`)
      const prefix = Array.isArray(o.prefixItems) ? o.prefixItems : []
      v.forEach((item, i) => {
        if (i < prefix.length) go(prefix[i], item, `${path}[${i}]`, depth + 1)
        else if (o.items !== undefined) go(o.items, item, `${path}[${i}]`, depth + 1)
      })
      if (o.uniqueItems === true && v.some((x, i) => v.findIndex((y) => deepEqual(x, y)) !== i)) {
        errors.push(`${path}: items are not unique`)
      }
    }
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const value = v as SchemaObject
      const properties = (typeof o.properties === "object" && o.properties !== null ? o.properties : {}) as SchemaObject
      if (Array.isArray(o.required)) {
        for (const key of o.required as Array<string>) {
          if (!(key in value)) errors.push(`${path}: missing required property ${JSON.stringify(key)}`)
        }
      }
      for (const [key, item] of Object.entries(value)) {
        if (key in properties) go(properties[key], item, `${path}.${key}`, depth + 1)
        else if (o.additionalProperties === false) errors.push(`${path}: unexpected property ${JSON.stringify(key)}`)
        else if (typeof o.additionalProperties === "object") {
          go(o.additionalProperties, item, `${path}.${key}`, depth + 1)
        }
      }
    }
    if (Array.isArray(o.allOf)) { for (const sub of o.allOf) go(sub, v, path, depth + 1) }
    if (Array.isArray(o.anyOf) && !o.anyOf.some((sub) => validate(withRoot(root, sub), v).length === 0)) {
      errors.push(`${path}: matches none of anyOf`)
    }
    if (Array.isArray(o.oneOf)) {
      const matched = o.oneOf.filter((sub) => validate(withRoot(root, sub), v).length === 0).length
      if (matched !== 1) errors.push(`${path}: matches ${matched} of oneOf, not exactly one`)
    }
    if (o.not !== undefined && validate(withRoot(root, o.not), v).length === 0) errors.push(`${path}: matches not`)
  }
  go(schema, value, "$", 0)
  return errors
}

/** A sub-schema that still resolves `$ref`s against the root's definitions. */
const withRoot = (root: SchemaObject, sub: Json): Json =>
  typeof sub === "object" && sub !== null && !Array.isArray(sub)
    ? {
      ...(root.$defs === undefined ? {} : { $defs: root.$defs }),
      ...(root.definitions === undefined ? {} : { definitions: root.definitions }),
      ...(sub as SchemaObject)
    }
    : sub
