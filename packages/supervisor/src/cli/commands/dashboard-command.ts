import { Command, Option } from "commander";
import { Malocher } from "../../malocher.js";
import { withOptions, type CliValues } from "../cli-options.js";
import { jsonLine } from "../json-line.js";
import { integer } from "../option-parsers.js";

const OPTIONS = ["readOnly", "allowSharedDirWriters", "dir", "json"] as const;

/** `malocher dashboard`: serves the web page of a directory's jobs until interrupted. */
export function dashboardCommand(): Command {
  const command = new Command("dashboard").description(
    "serve a web page of the directory's jobs, failures and logs (with a JSON API) until Ctrl-C; prints its address with the token",
  );
  // Its own --port and --host (where the page listens), as the contract names them: the
  // table's --port is an SSH port and its --host a filter, which this command does not take; on
  // `run` the same two are --dashboard-port and --dashboard-host, and --port stays the SSH port.
  command.addOption(new Option("--port <port>", "the port the dashboard listens on (default: a free one; on `malocher run`: --dashboard-port)").argParser(integer("--port")));
  command.addOption(
    new Option("--host <address>", "the address the dashboard listens on (default 127.0.0.1: reach it from elsewhere with ssh -L; any other is warned about; on `malocher run`: --dashboard-host)"),
  );
  return withOptions(command, OPTIONS)
    .addHelpText(
      "after",
      "\nExamples:\n  malocher dashboard --dir /shared/alice/jobs --port 8470\n" +
        "  ssh -L 8470:127.0.0.1:8470 login-node 'npx malocher dashboard --port 8470 --dir /shared/alice/jobs'   # then open the printed address here",
    )
    .action(async (options: CliValues<(typeof OPTIONS)[number]> & { port?: number; host?: string }) => {
      const malocher = new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true });
      const dashboard = await malocher.dashboard({
        ...(options.port === undefined ? {} : { port: options.port }),
        ...(options.host === undefined ? {} : { host: options.host }),
        ...(options.readOnly ? { readOnly: true } : {}),
        onListening: (url) => {
          if (options.json) process.stdout.write(jsonLine({ type: "dashboard", url }));
          else console.log(`malocher: dashboard at ${url}`);
        },
      });
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await dashboard.close();
    });
}
