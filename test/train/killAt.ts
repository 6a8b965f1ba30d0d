/**
 * Child process for the kill-and-resume test: runs `wrn train` with the given config and SIGKILLs
 * itself in the middle of an epoch (no chance to clean up, like a real crash).
 * usage: node killAt.js CONFIG_JSON EPOCH BATCH
 */
import { readFileSync } from 'node:fs';
import { train, type TrainConfig } from '../../src/train/trainer.js';

const [cfgFile, epoch, batch] = process.argv.slice(2);
const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as TrainConfig;
await train(cfg, {
  afterStep: (s) => {
    if (s.epoch === Number(epoch) && s.batch === Number(batch)) process.kill(process.pid, 'SIGKILL');
  },
});
