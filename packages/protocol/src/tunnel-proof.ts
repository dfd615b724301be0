import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * How an agent and its supervisor prove to each other that they know the run's token, without
 * sending it: the agent picks a nonce and sends it with HMAC(token, "agent", nonce); the supervisor
 * answers (in its upgrade response) with HMAC(token, "supervisor", nonce). A process that bound the
 * forwarded port after the supervisor let it go learns no token, and cannot pass for the supervisor.
 */
export const SUPERVISOR_PROOF_HEADER = "x-malocher-proof";

/** What the agent sends as its `authorization` header: `Malocher <nonce>.<proof>`. */
export function agentAuthorization(token: string, nonce: string): string {
  return `Malocher ${nonce}.${proof(token, "agent", nonce)}`;
}

/** The nonce of an agent's `authorization` header if its proof is right for `token`, else undefined. */
export function checkAgentAuthorization(header: string | undefined, token: string): string | undefined {
  const match = /^Malocher ([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})$/.exec(header ?? "");
  if (match === null) return undefined;
  const [, nonce = "", presented = ""] = match;
  return sameText(presented, proof(token, "agent", nonce)) ? nonce : undefined;
}

/** The supervisor's answer to the agent's `nonce`. */
export function supervisorProof(token: string, nonce: string): string {
  return proof(token, "supervisor", nonce);
}

/** Whether the supervisor's answer is right. */
export function checkSupervisorProof(answer: string | undefined, token: string, nonce: string): boolean {
  return sameText(answer ?? "", supervisorProof(token, nonce));
}

function proof(token: string, side: "agent" | "supervisor", nonce: string): string {
  return createHmac("sha256", token).update(`malocher-tunnel\n${side}\n${nonce}`).digest("base64url");
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
