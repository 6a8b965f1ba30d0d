import type { Activation } from '../backend/backend.js';
import { Module } from '../nn/module.js';

/** What a checkpoint must record to rebuild a network: the registry name and the head/stem sizes. */
export interface NetworkConfig {
  arch: string;
  classes: number;
  inChannels: number;
  activation: Activation;
  dropout: number;
}

/** A whole classifier: a Module that knows how it was built. */
export abstract class Network extends Module {
  constructor(readonly config: NetworkConfig) {
    super();
  }
}
