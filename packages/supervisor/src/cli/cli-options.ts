import { Option } from "commander";
import { defaultDirectory } from "../malocher.js";

/** `--dir`, which every command takes. */
export const dirOption = () =>
  new Option("--dir <path>", "the shared job directory").default(defaultDirectory(), "$MALOCHER_DIR or ./.malocher");

/** `--json`, which every command takes. */
export const jsonOption = () => new Option("--json", "machine-readable output (JSON Lines)");
