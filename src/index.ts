/**
 * rath: a session-centered runtime for multi-agent, multi-session systems, on Effect.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Agent from "./Agent.js"

/**
 * @since 0.1.0
 */
export * as Anthropic from "./providers/Anthropic.js"

/**
 * @since 0.1.0
 */
export * as Approval from "./Approval.js"

/**
 * @since 0.1.0
 */
export * as Budget from "./Budget.js"

/**
 * @since 0.1.0
 */
export * as Builtin from "./Builtin.js"

/**
 * @since 0.1.0
 */
export * as BwrapSandbox from "./sandboxes/Bwrap.js"

/**
 * @since 0.1.0
 */
export * as Compressor from "./Compressor.js"

/**
 * @since 0.1.0
 */
export * as Embedder from "./Embedder.js"

/**
 * @since 0.1.0
 */
export * as Entry from "./Entry.js"

/**
 * @since 0.1.0
 */
export * as Eval from "./Eval.js"

/**
 * @since 0.1.0
 */
export * as IdGenerator from "./IdGenerator.js"

/**
 * @since 0.1.0
 */
export * as Journal from "./Journal.js"

/**
 * @since 0.1.0
 */
export * as LocalSandbox from "./sandboxes/Local.js"

/**
 * @since 0.1.0
 */
export * as Mcp from "./Mcp.js"

/**
 * @since 0.1.0
 */
export * as Memory from "./Memory.js"

/**
 * @since 0.1.0
 */
export * as Model from "./Model.js"

/**
 * @since 0.1.0
 */
export * as OpenAi from "./providers/OpenAi.js"

/**
 * @since 0.1.0
 */
export * as Placement from "./Placement.js"

/**
 * @since 0.1.0
 */
export * as Provider from "./Provider.js"

/**
 * @since 0.1.0
 */
export * as ProviderConfig from "./ProviderConfig.js"

/**
 * @since 0.1.0
 */
export * as Replay from "./Replay.js"

/**
 * @since 0.1.0
 */
export * as Resume from "./Resume.js"

/**
 * @since 0.1.0
 */
export * as Run from "./Run.js"

/**
 * @since 0.1.0
 */
export * as Sandbox from "./Sandbox.js"

/**
 * @since 0.1.0
 */
export * as Scripted from "./providers/Scripted.js"

/**
 * @since 0.1.0
 */
export * as Selector from "./Selector.js"

/**
 * @since 0.2.0
 */
export * as Server from "./Server.js"

/**
 * @since 0.1.0
 */
export * as Session from "./Session.js"

/**
 * @since 0.1.0
 */
export * as SessionGraph from "./SessionGraph.js"

/**
 * @since 0.1.0
 */
export * as SessionStore from "./SessionStore.js"

/**
 * @since 0.1.0
 */
export * as Telemetry from "./Telemetry.js"

/**
 * @since 0.1.0
 */
export * as Tool from "./Tool.js"

/**
 * @since 0.1.0
 */
export * as Viewer from "./Viewer.js"

/**
 * @since 0.1.0
 */
export * as Workflow from "./Workflow.js"
