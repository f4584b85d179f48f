/**
 * Where a session's tools run: a sandbox backend, and once bound, the identity of one sandbox.
 *
 * A placement is data. Binding a session to a placement (`Session.to`) opens nothing; the
 * `Sandbox` service resolves the placement to a handle the first time a tool needs it.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A sandbox placement. `backend` names the sandbox kind (`"local"`, `"bwrap"`, ...); `id` and
 * `workspace` identify one sandbox once it is bound, so a persisted session can reopen it.
 * A `Schema.Class`, so two placements with the same fields are `Equal` and hash alike (it is
 * the key of the sandbox pool).
 *
 * @since 0.1.0
 * @category models
 */
export class Placement extends Schema.Class<Placement>("rath/Placement")({
  backend: Schema.String,
  id: Schema.optional(Schema.String),
  workspace: Schema.optional(Schema.String),
  network: Schema.optional(Schema.Boolean)
}) {}

/**
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Placement } from "rath"
 *
 * const unbound = Placement.make({ backend: "local" })
 * const bound = Placement.make({ backend: "local", id: "sbx_1", workspace: "/tmp/ws" })
 * ```
 */
export const make = (fields: {
  readonly backend: string
  readonly id?: string | undefined
  readonly workspace?: string | undefined
  readonly network?: boolean | undefined
}): Placement => {
  const props: { backend: string; id?: string; workspace?: string; network?: boolean } = { backend: fields.backend }
  if (fields.id !== undefined) props.id = fields.id
  if (fields.workspace !== undefined) props.workspace = fields.workspace
  if (fields.network !== undefined) props.network = fields.network
  return new Placement(props)
}

/**
 * A placement names one sandbox (has an id), rather than only a backend.
 *
 * @since 0.1.0
 * @category guards
 */
export const isBound = (self: Placement): boolean => self.id !== undefined

/**
 * Whether two placements can describe the same sandbox: the same backend, and where both name a
 * sandbox id or workspace, the same one. Network access must agree when both state it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const isCompatible = (self: Placement, that: Placement): boolean =>
  self.backend === that.backend &&
  (self.id === undefined || that.id === undefined || self.id === that.id) &&
  (self.workspace === undefined || that.workspace === undefined || self.workspace === that.workspace) &&
  (self.network === undefined || that.network === undefined || self.network === that.network)

/**
 * The more specific of two compatible placements: every field that either states.
 *
 * @since 0.1.0
 * @category combinators
 */
export const unify = (self: Placement, that: Placement): Placement =>
  make({
    backend: self.backend,
    id: self.id ?? that.id,
    workspace: self.workspace ?? that.workspace,
    network: self.network ?? that.network
  })

/**
 * A short label such as `local:sbx_1` or `bwrap` for display.
 *
 * @since 0.1.0
 * @category getters
 */
export const label = (self: Placement): string => self.id === undefined ? self.backend : `${self.backend}:${self.id}`
