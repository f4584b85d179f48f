// LangGraph.js side of the benchmark: native messages, the one-node append graph of W1-W3, the
// scripted model as a BaseChatModel subclass (bindTools returns itself) and the canonical
// agent graph (model node + ToolNode + toolsCondition) of W4-W5.
import { BaseChatModel } from "@langchain/core/language_models/chat_models"
import { AIMessage, HumanMessage } from "@langchain/core/messages"
import { tool } from "@langchain/core/tools"
import { Annotation, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph"
import { ToolNode, toolsCondition } from "@langchain/langgraph/prebuilt"
import { z } from "zod"
import { add, decide, msgId, msgText, sleep, versionOf } from "./common.mjs"

export const version = () => `@langchain/langgraph@${versionOf("@langchain/langgraph")}`

/** Message i as LangChain's native message type. */
export const msg = (i) =>
  i % 2 === 0
    ? new HumanMessage({ content: msgText(i), id: msgId(i) })
    : new AIMessage({ content: msgText(i), id: msgId(i) })

export const AppendState = Annotation.Root({
  ...MessagesAnnotation.spec,
  next: Annotation()
})

/** W1-W3: one node `append` that returns `{messages: [msg(next)]}`. */
export const appendGraph = (checkpointer) =>
  new StateGraph(AppendState)
    .addNode("append", (state) => ({ messages: [msg(state.next)] }))
    .addEdge(START, "append")
    .addEdge("append", END)
    .compile({ checkpointer })

/** Opens SqliteSaver on a file with the benchmark's pragmas (same level as the other SQLite peer). */
export const openSqliteSaver = async (file, applySqlitePragmas) => {
  const { SqliteSaver } = await import("@langchain/langgraph-checkpoint-sqlite")
  const saver = SqliteSaver.fromConnString(file)
  applySqlitePragmas(saver.db)
  return saver
}

const normalise = (messages) =>
  messages.map((m) => {
    const type = m._getType()
    return {
      kind: type === "human" ? "user" : type === "tool" ? "tool" : "other",
      text: typeof m.content === "string" ? m.content : JSON.stringify(m.content)
    }
  })

let callIds = 0

/** The scripted model through LangChain's extension point. */
export class ScriptedChatModel extends BaseChatModel {
  constructor({ toolCalls, sleepMs = 0 }) {
    super({})
    this.toolCalls = toolCalls
    this.sleepMs = sleepMs
  }
  _llmType() {
    return "scripted"
  }
  bindTools() {
    return this
  }
  async _generate(messages) {
    if (this.sleepMs > 0) await sleep(this.sleepMs)
    const decision = decide(normalise(messages), this.toolCalls)
    const message = decision.type === "call"
      ? new AIMessage({
        content: "",
        tool_calls: [{ id: `call_${++callIds}`, name: "add", args: decision.args, type: "tool_call" }]
      })
      : new AIMessage({ content: decision.text })
    return { generations: [{ text: typeof message.content === "string" ? message.content : "", message }] }
  }
}

export const addTool = tool(add, {
  name: "add",
  description: "Adds two numbers.",
  schema: z.object({ a: z.number(), b: z.number() })
})

/** W4-W5: the canonical tool-calling agent graph, no checkpointer (no persistence). */
export const agentGraph = (model) => {
  const bound = model.bindTools([addTool])
  return new StateGraph(MessagesAnnotation)
    .addNode("agent", async (state) => ({ messages: [await bound.invoke(state.messages)] }))
    .addNode("tools", new ToolNode([addTool]))
    .addEdge(START, "agent")
    .addConditionalEdges("agent", toolsCondition, ["tools", END])
    .addEdge("tools", "agent")
    .compile()
}

/** The final answer of one agent run. */
export const finalText = (state) => {
  const last = state.messages[state.messages.length - 1]
  return typeof last.content === "string" ? last.content : JSON.stringify(last.content)
}
