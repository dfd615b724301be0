import { Session } from "node:inspector";
import type { Debugger, Runtime } from "node:inspector";

/** What `Debugger.scriptParsed` reported about one script. */
export interface ScriptInfo {
  /** `file:` URL for files, `node:` for Node's own code, `""` or `[eval]` for code without a file. */
  url: string;
  isModule: boolean;
}

/** V8's `[[Scopes]]` of a function: one entry per scope, innermost first, as `"Module"`, `"Closure (outer)"`, … */
export interface ScopeEntry {
  description: string;
  objectId: string;
}

/** What the inspector knows about a function. */
export interface FunctionInternals {
  /** Set for bound functions. */
  boundTarget: boolean;
  /** Absent for built-in (native) and bound functions. */
  location?: Debugger.Location;
  scopes: ScopeEntry[];
}

/**
 * A synchronous client of the V8 inspector of this thread. The Debugger domain stays enabled so that every script's
 * URL is known (`Debugger.scriptParsed`); breakpoints and `debugger;` statements are skipped for this session.
 * `Session#post` on a session connected to its own thread answers before it returns (Node 20), which is what lets
 * `locateFunction` stay synchronous.
 */
export class InspectorSession {
  readonly #session = new Session();
  readonly #scripts = new Map<string, ScriptInfo>();

  constructor() {
    this.#session.connect();
    this.#session.on("Debugger.scriptParsed", (message: { params: Debugger.ScriptParsedEventDataType }) => {
      const { scriptId, url, isModule } = message.params;
      if (url !== "") this.#scripts.set(scriptId, { url, isModule: isModule === true });
    });
    try {
      this.post("Debugger.enable"); // reports every script parsed so far, then each new one
      this.post("Debugger.setSkipAllPauses", { skip: true });
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** The script with this id, or undefined for code without a URL (`new Function`, eval). */
  script(scriptId: string): ScriptInfo | undefined {
    return this.#scripts.get(scriptId);
  }

  /** The script's source as V8 runs it. */
  scriptSource(scriptId: string): string {
    return this.post<Debugger.GetScriptSourceReturnType>("Debugger.getScriptSource", { scriptId }).scriptSource;
  }

  /**
   * Makes a remote object of `value` in `objectGroup`. The value passes through a global slot that exists only
   * during the call; the inspector has no other way to reach a value of ours.
   */
  remoteObject(value: object, objectGroup: string): string {
    const slot = Symbol.for("malocher.inspector-session.value");
    Object.defineProperty(globalThis, slot, { value, configurable: true, enumerable: false, writable: false });
    try {
      const { result, exceptionDetails } = this.post<Runtime.EvaluateReturnType>("Runtime.evaluate", {
        expression: `globalThis[Symbol.for("malocher.inspector-session.value")]`,
        objectGroup,
        silent: true,
      });
      if (exceptionDetails !== undefined || result.objectId === undefined) {
        throw new Error(`the inspector could not reach the value: ${exceptionDetails?.text ?? result.type}`);
      }
      return result.objectId;
    } finally {
      delete (globalThis as Record<symbol, unknown>)[slot];
    }
  }

  /** The `[[FunctionLocation]]`, `[[Scopes]]` and `[[TargetFunction]]` of a remote function. */
  functionInternals(objectId: string): FunctionInternals {
    const { internalProperties = [] } = this.post<Runtime.GetPropertiesReturnType>("Runtime.getProperties", {
      objectId,
      ownProperties: true,
    });
    const internal = new Map(internalProperties.map((p) => [p.name, p.value]));
    const location = internal.get("[[FunctionLocation]]")?.value as Debugger.Location | undefined;
    const scopesId = internal.get("[[Scopes]]")?.objectId;
    const scopes: ScopeEntry[] = [];
    if (scopesId !== undefined) {
      const { result } = this.post<Runtime.GetPropertiesReturnType>("Runtime.getProperties", {
        objectId: scopesId,
        ownProperties: true,
      });
      for (const entry of result) {
        const id = entry.value?.objectId;
        if (/^\d+$/.test(entry.name) && id !== undefined) {
          scopes.push({ description: entry.value?.description ?? "", objectId: id });
        }
      }
    }
    const out: FunctionInternals = { boundTarget: internal.has("[[TargetFunction]]"), scopes };
    if (location !== undefined) out.location = location;
    return out;
  }

  /** Calls `fn` (the source of a function) on a remote object with plain JSON or remote-object arguments. */
  callOn<T>(objectId: string, fn: string, args: Runtime.CallArgument[]): T {
    const { result, exceptionDetails } = this.post<Runtime.CallFunctionOnReturnType>("Runtime.callFunctionOn", {
      objectId,
      functionDeclaration: fn,
      arguments: args,
      returnByValue: true,
      silent: true,
    });
    if (exceptionDetails !== undefined) {
      throw new Error(`inspector call failed: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    }
    return result.value as T;
  }

  /**
   * The value of a variable in a `[[Scopes]]` entry, brought back through a global slot that
   * exists only during the call (the inspector's answers are JSON, not our objects).
   */
  readScopeVariable(scopeObjectId: string, name: string): unknown {
    const slot = Symbol.for("malocher.inspector-session.scope-variable");
    this.callOn(scopeObjectId, `function (name) {
      Object.defineProperty(globalThis, Symbol.for("malocher.inspector-session.scope-variable"), { value: this.object[name], configurable: true });
    }`, [{ value: name }]);
    try {
      return (globalThis as Record<symbol, unknown>)[slot];
    } finally {
      delete (globalThis as Record<symbol, unknown>)[slot];
    }
  }

  /** The names of a remote object's `#private` fields and methods. */
  privateMemberNames(objectId: string): string[] {
    // @types/node 20 leaves `privateProperties` out of the answer's type; V8 sends it.
    const { privateProperties = [] } = this.post<{ privateProperties?: { name: string }[] }>("Runtime.getProperties", {
      objectId,
      ownProperties: true,
    });
    return privateProperties.map((p) => p.name);
  }

  releaseObjectGroup(objectGroup: string): void {
    this.post("Runtime.releaseObjectGroup", { objectGroup });
  }

  /** Idempotent. */
  close(): void {
    this.#session.disconnect();
    this.#scripts.clear();
  }

  post<T = unknown>(method: string, params?: object): T {
    const answer: { done: boolean; error: Error | null; result?: unknown } = { done: false, error: null };
    this.#session.post(method, params, (error, result) => {
      answer.done = true;
      answer.error = error;
      answer.result = result;
    });
    if (!answer.done) throw new Error(`the inspector did not answer ${method} synchronously`);
    if (answer.error !== null) throw answer.error;
    return answer.result as T;
  }
}
