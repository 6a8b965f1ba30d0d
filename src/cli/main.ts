import { Command } from 'commander';
import { mpiLaunch } from '../distributed/launch.js';
import { register as registerSummary } from './commands/summary.js';
import { register as registerData } from './commands/data.js';
import { register as registerTrain } from './commands/train.js';
import { register as registerEval } from './commands/eval.js';
import { register as registerPredict } from './commands/predict.js';
import { register as registerExport } from './commands/export.js';
import { register as registerConvert } from './commands/convert.js';
import { register as registerPlan } from './commands/plan.js';
import { register as registerCompare } from './commands/compare.js';
import { register as registerBench } from './commands/bench.js';
import { register as registerServe } from './commands/serve.js';
import { UserError } from './userError.js';

/** --debug anywhere on the line (or WRN_DEBUG=1) shows stack traces; read before parsing so parse errors honour it too. */
const debug = process.argv.includes('--debug') || ['1', 'true', 'yes'].includes((process.env.WRN_DEBUG ?? '').toLowerCase());
import { register as registerFeatures } from './commands/features.js';
import { register as registerQuantize } from './commands/quantize.js';

const program = new Command();
program
  .name('wrn')
  .description('Wide Residual Networks in TypeScript: build, train, evaluate, benchmark and export WRNs')
  .version('0.1.0')
  .option('--debug', 'show stack traces of errors (also WRN_DEBUG=1)')
  // Commander's own errors (unknown option, missing argument) as one line; inherited by every command.
  .configureOutput({
    // Under mpirun every rank parses the same line: only rank 0 reports a parse error.
    outputError: (str, write) => { if ((mpiLaunch()?.rank ?? 0) === 0) write(`wrn: ${str.replace(/^error: /, '').trim()} (see --help)\n`); },
  });

registerSummary(program);
registerData(program);
registerTrain(program);
registerEval(program);
registerPredict(program);
registerExport(program);
registerConvert(program);
registerPlan(program);
registerCompare(program);
registerBench(program);
registerFeatures(program);
registerServe(program);
registerQuantize(program);

/** One line for any error; the stack only with --debug. Errors that are not the user's say so. */
function report(e: unknown): void {
  if (debug) {
    console.error(e);
    return;
  }
  const message = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
  // TypeError, RangeError, ... from inside a library are bugs or unchecked input: still one line, with a pointer.
  const internal = e instanceof TypeError || e instanceof ReferenceError || e instanceof RangeError || !(e instanceof Error);
  if (internal && !(e instanceof UserError)) console.error(`wrn: internal error: ${message} (run with --debug for the stack trace)`);
  else console.error(`wrn: ${message}`);
}

// Errors that escape the command's promise (a worker thread, a stream callback) are reported the same way.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (e: unknown) => {
    report(e);
    process.exit(1);
  });
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = 1;
  report(e);
}
