import { Option } from "commander";
import { defaultDirectory } from "../malocher.js";

/** `--dir`, which every command takes. */
export const dirOption = () =>
  new Option("--dir <path>", "the shared job directory").default(defaultDirectory(), "$MALOCHER_DIR or ./.malocher");

/** `--json`, which every command takes. */
export const jsonOption = () => new Option("--json", "machine-readable output (JSON Lines)");

/** `--allow-shared-dir-writers`, for the commands that open the directory to work in it. */
export const sharedWritersOption = () =>
  new Option("--allow-shared-dir-writers", "work in a directory other users can write to (warns each run)");
