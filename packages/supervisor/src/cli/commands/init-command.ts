import { Command } from "commander";
import { basename, relative } from "node:path";
import { hasMalocherInstalled, initProject } from "../../init/init-project.js";
import { withOptions, type CliValues } from "../cli-options.js";
import { jsonLine } from "../json-line.js";

const OPTIONS = ["json"] as const;

/** `malocher init [dir]`: a project set up to use Malocher (package.json as ES module, experiment.ts, hosts.txt). */
export function initCommand(): Command {
  const command = new Command("init")
    .description("set up a project to use Malocher: package.json with \"type\": \"module\" (a package with code of its own keeps its type and gets an experiment.mts), an experiment.ts under isMain, a hosts.txt to fill in (nothing is overwritten)")
    .argument("[dir]", "the project's directory (made if missing)", ".");
  return withOptions(command, OPTIONS)
    .addHelpText("after", "\nExamples:\n  malocher init my-experiment && cd my-experiment && npx tsx experiment.ts\n  malocher init   # the current directory")
    .action((dir: string, options: CliValues<(typeof OPTIONS)[number]>) => {
      const steps = initProject(dir);
      if (options.json) {
        for (const step of steps) process.stdout.write(jsonLine(step));
        return;
      }
      for (const step of steps) console.log(`${step.action.padEnd(7)} ${relative(process.cwd(), step.file) || step.file}${step.detail === undefined ? "" : `: ${step.detail}`}`);
      const cd = relative(process.cwd(), dir) === "" ? "" : `cd ${dir} && `;
      console.log("\nNext:");
      if (!hasMalocherInstalled(dir)) console.log(`  ${cd}npm install <path to>/malocher-<version>.tgz tsx   # npm run pack in Malocher's checkout writes it`);
      console.log("  put your machines in hosts.txt, then: npx malocher nodes --hosts hosts.txt");
      console.log(`  ${cd}npx tsx ${basename(steps[1]!.file)}`);
    });
}
