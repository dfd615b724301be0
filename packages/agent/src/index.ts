export { Agent, type AgentState } from "./agent.js";
