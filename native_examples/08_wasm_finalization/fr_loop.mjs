// fr_loop.mjs -- objects in WebAssembly memory freed only by a FinalizationRegistry.
// Run: node --expose-gc fr_loop.mjs objects.wasm MODE [ITERATIONS] [SIZE]
//   MODE sync        a synchronous loop that calls gc() every iteration
//        yield       the same loop, awaiting a macrotask (setTimeout 0) each iteration
//        yield-nogc  yielding, but leaving GC to V8's own heuristics
//        release     a synchronous loop that calls release() each iteration
// Prints one line per 10 iterations and a JSON summary as the last line.
import { loadObjects, makeWrapperClass, snapshot } from './objects.mjs';

const [wasmPath, mode = 'sync', iterArg = '200', sizeArg = String(200 * 1024)] = process.argv.slice(2);
const iterations = Number(iterArg);
const size = Number(sizeArg);
const gc = globalThis.gc;
if (mode !== 'yield-nogc' && mode !== 'release' && typeof gc !== 'function') {
  console.error('run with: node --expose-gc fr_loop.mjs ...');
  process.exit(2);
}
const ex = await loadObjects(wasmPath);
const NativeObject = makeWrapperClass(ex);
const trace = [];
let error = null;
let done = 0;

function work(i) {
  const obj = new NativeObject(size);     // becomes garbage at the end of the iteration
  if (mode === 'release') obj.release();
}

for (let i = 0; i < iterations; i++) {
  try {
    work(i);
  } catch (e) {
    error = e.message;
    console.log(`iteration ${i}: ${e.message}`);
    break;
  }
  done = i + 1;
  if (mode === 'sync' || mode === 'yield') gc();
  if (mode === 'yield' || mode === 'yield-nogc') await new Promise((r) => setTimeout(r, 0));
  const s = snapshot(ex);
  trace.push(s);
  if (done % 25 === 0 && mode !== 'sync') console.log(`iteration ${done}: live objects ${s.live}, pages ${s.pages}`);
}
const peakLive = Math.max(...trace.map((s) => s.live));
const peakPages = Math.max(...trace.map((s) => s.pages));
console.log(`${mode}: ${done} of ${iterations} iterations done; peak live objects ${peakLive}, peak pages ${peakPages}`);
console.log(JSON.stringify({ mode, iterations, done, error, peakLive, peakPages, trace }));
