export { Module } from './module.js';
export { ActivationLifetimes } from './lifetimes.js';
export { Conv2d, BatchNorm2d, Act, Dropout, Linear, MaxPool2d, GlobalAvgPool, Sequential } from './layers.js';
