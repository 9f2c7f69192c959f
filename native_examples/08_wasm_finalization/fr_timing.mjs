// fr_timing.mjs -- when does a FinalizationRegistry callback run?
// Run: node --expose-gc fr_timing.mjs
// ECMAScript never runs cleanup callbacks inside the current synchronous job;
// the host schedules them later (in node/V8: as a task after a GC).
if (typeof globalThis.gc !== 'function') {
  console.error('run with: node --expose-gc fr_timing.mjs');
  process.exit(2);
}
const ran = [];
const registry = new FinalizationRegistry((tag) => ran.push(tag));

function makeGarbage(tag) {
  // the object is unreachable as soon as this function returns
  registry.register({ payload: new Array(10000).fill(tag) }, tag);
}

makeGarbage('A');
globalThis.gc();
console.log(`1. same synchronous job, after gc():           callbacks run = ${ran.length}`);

const t0 = Date.now();
while (Date.now() - t0 < 200) { globalThis.gc(); }   // busy for 200 ms, still the same job
console.log(`2. same job, after 200 ms of gc() in a loop:    callbacks run = ${ran.length}`);

await Promise.resolve();
globalThis.gc();
console.log(`3. after awaiting a microtask + gc():           callbacks run = ${ran.length}`);

// The cleanup is a task of its own, and so is each setTimeout: which of the two the event
// loop runs first is node's choice (node 20 ran the cleanup first, node 24 sometimes the
// timer), so wait task after task, at most 100 of them, until the callback has run.
let tasks = 0;
while (ran.length === 0 && tasks < 100) {
  await new Promise((resolve) => setTimeout(resolve, 0));
  tasks++;
}
console.log(`4. after awaiting later tasks (setTimeout 0):   callbacks run = ${ran.length}`);
console.error(`tasks awaited before the callback had run: ${tasks}`);
