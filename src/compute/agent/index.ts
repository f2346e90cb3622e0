// The compute agent's public face, for the CLI (`cumulo up`, `cumulo serve --roles compute-agent`).
export { ComputeAgent, type ComputeAgentOptions } from './agent.ts'
export { type AgentInstance, ControlClient, type TokenProvider, passwordTokenProvider } from './control-client.ts'
