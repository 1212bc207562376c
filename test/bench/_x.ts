import { kernelFigures } from './kernels.js';
import { memcpyGBps } from './machine.js';
const m = memcpyGBps();
console.log('memcpy', m.toFixed(2));
for (const k of kernelFigures()) console.log(k.name.padEnd(42), k.gbps.toFixed(2), ((100 * k.gbps) / m).toFixed(0) + '%');
