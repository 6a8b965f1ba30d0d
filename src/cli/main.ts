import { Command } from 'commander';
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
import { register as registerFeatures } from './commands/features.js';

const program = new Command();
program
  .name('wrn')
  .description('Wide Residual Networks in TypeScript: build, train, evaluate, benchmark and export WRNs')
  .version('0.1.0')
  .showHelpAfterError();

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

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = 1;
  // Our own checks throw Errors whose message names the file/flag and what was expected: one line.
  // Programming errors (TypeError, ReferenceError, ...) keep their stack; WRN_DEBUG=1 shows every stack.
  const bug = e instanceof TypeError || e instanceof ReferenceError || e instanceof RangeError || !(e instanceof Error);
  if (bug || process.env.WRN_DEBUG) console.error(e);
  else console.error(`wrn: ${e.message}`);
}
