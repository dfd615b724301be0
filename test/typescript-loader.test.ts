import { strict as assert } from "node:assert";
import { test } from "node:test";
import { tsxUsesInThreadHooksOn } from "../packages/agent/dist/worker/typescript-loader.js";

test("a worker leaves tsx's loader to tsx's register() exactly on the Node releases where tsx uses in-thread hooks", () => {
  const inThread = ["22.22.3", "22.23.0", "24.11.1", "24.12.0", "25.1.0", "26.0.0", "27.3.1"];
  const onHooksThread = ["20.19.0", "20.20.2", "21.7.3", "22.15.0", "22.22.2", "23.11.0", "24.11.0", "24.0.0", "25.0.9"];
  for (const version of inThread) assert.equal(tsxUsesInThreadHooksOn(version), true, version);
  for (const version of onHooksThread) assert.equal(tsxUsesInThreadHooksOn(version), false, version);
});
