export { MalocherError, ERROR_CODES, serializeError, type ErrorCode, type SerializedError } from "./malocher-error.js";
export { PROTOCOL_VERSION, DIRECTORY_FORMAT, MALOCHER_VERSION } from "./version.js";
export {
  newJobId,
  newChunkName,
  chunkMemberId,
  chunkMemberOf,
  isJobId,
  isAgentId,
  quoteNonId,
  isChunkName,
  shardOf,
  SHARDS,
  MAX_CHUNK_MEMBERS,
  type ChunkMember,
} from "./job-id.js";
export { randomHex } from "./random-hex.js";
export { agentLine, agentOfLine } from "./agent-line.js";
export { describeType } from "./record-codec.js";
export { shownValue } from "./shown-value.js";
export { directoryLayout, SHARDED_DIRS, REMOVED_SPEC_SUFFIX } from "./directory-layout.js";
export { encodeSpecChunk, specChunkHeadBytes, specChunkMemberCount, specChunkRecordRange, SPEC_CHUNK_PREFIX_BYTES } from "./spec-chunk.js";
export { JOB_STATES, type JobState } from "./job-state.js";
export {
  encodeJobSpec,
  MAX_SPEC_BYTES,
  decodeJobSpec,
  type JobSpec,
  type JobSpecBase,
  type FunctionJobSpec,
  type CommandJobSpec,
  type FunctionRef,
  type JobRunOptions, type JobPlacement,
  type JobNameAndTags,
} from "./job-spec.js";
export { COMMAND_OUTPUT_TAIL_BYTES, type CommandOutput } from "./command-output.js";
export {
  encodeStoredResult,
  decodeStoredResult,
  toJobResult,
  type JobResult,
  type JobResultMeta,
  type JobError,
  type StoredResult,
  type StoredFailure,
} from "./job-result.js";
export { encodeValue, decodeValue, decodeValueWithClasses, checkAndEncodeValue, type EncodeOptions } from "./value-codec.js";
export { ResultOf, replaceResultRefs, collectResultRefs } from "./result-ref.js";
export { findUnserializable, type FindOptions, type SeenInstances } from "./find-unserializable.js";
export {
  classRefKey,
  describeClassRef,
  type ClassRef,
  type ModuleClassRef,
  type ClassLookup,
  type LocateClass,
  type LoadClass,
  type MalocherEncodable,
} from "./class-ref.js";
export { unloadedClassOf } from "./class-revival.js";
export type {
  AgentMessage,
  SupervisorMessage,
  HelloMessage,
  HeartbeatMessage,
  WarmMessage,
  JobStartedMessage,
  JobFinishedMessage,
  JobRetryingMessage,
  JobsRequeuedMessage,
  MisfitMessage,
  DependentsSettledMessage,
  ByeMessage,
  WelcomeMessage,
  NudgeMessage,
  StopMessage,
  CancelMessage,
  DrainMessage,
  RunSettings,
} from "./messages.js";
export { encodeMessage, encodeAgentFrames, decodeAgentFrame, decodeAgentMessage, decodeSupervisorMessage } from "./message-codec.js";
export { asksForPlacement, placementMisfit, slotsOf, isLabel, type NodeCapacity } from "./placement.js";
export { parseAgentLaunchConfig, type AgentLaunchConfig, type SlurmAgentSettings, type TransportKind } from "./agent-launch-config.js";
export { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from "./frame-stream.js";
export { signFile, verifyFile, keyIdOf, TAG_BYTES, type SignedFileKind } from "./signed-file.js";
export { sealSecret, openSecret } from "./secret-box.js";
export { CUT_NOTE_PREFIX, cutNote, interruptNote, rerunNote, retriedNote, retryNote } from "./log-notes.js";
export { retryReason, type RetryReason } from "./retry-reason.js";
export { importingJobModule, refuseWhileImportingJobModule } from "./job-module-import.js";
export { failure, failureFrom, cancelled, dependencyFailed, firstFailureOf, storedOutcome, outcomeWithoutRun, unreadableResult, NO_RUN, type JobEnding, type OutcomeMeta } from "./job-outcome.js";
export { backoffMs } from "./retry-backoff.js";
export { agentStopDeadlineMs, supervisorStopWaitMs, slurmStopMarginMs, AGENT_STOP_MARGIN_MS, SUPERVISOR_STOP_MARGIN_MS } from "./stop-deadline.js";
export { SUPERVISOR_PROOF_HEADER, agentAuthorization, checkAgentAuthorization, checkSupervisorProof, supervisorProof } from "./tunnel-proof.js";
