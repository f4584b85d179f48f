#!/usr/bin/env node
/**
 * The `rath` executable.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "./Cli.js"
import { ExitCode } from "./CliError.js"

// ANSI bold in help pages only on a terminal, and never with NO_COLOR (https://no-color.org)
const color = process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""

Cli.main(process.argv, { color }).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    // the exit code is main's result; an interrupt (Ctrl-C, e.g. to stop `rath serve`) exits 0
    teardown: (exit, onExit) =>
      onExit(Exit.isSuccess(exit) ? Number(exit.value) : Cause.isInterruptedOnly(exit.cause) ? 0 : ExitCode.Internal)
  })
)
