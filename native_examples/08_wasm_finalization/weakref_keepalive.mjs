// weakref_keepalive.mjs -- creating a WeakRef (or calling deref()) keeps the
// target alive until the current synchronous job ends (ECMA-262 AddToKeptObjects
// / ClearKeptObjects). Run: node --expose-gc weakref_keepalive.mjs
if (typeof globalThis.gc !== 'function') {
  console.error('run with: node --expose-gc weakref_keepalive.mjs');
  process.exit(2);
}
function makeRef() {
  return new WeakRef({ payload: new Array(10000).fill(1) });
}
const ref = makeRef();            // nothing else points at the target
globalThis.gc();
console.log(`same job, after gc():       deref() is ${ref.deref() === undefined ? 'undefined (collected)' : 'the object (kept alive)'}`);

await new Promise((resolve) => setTimeout(resolve, 0));   // the job ends: kept objects cleared
globalThis.gc();
console.log(`next task, after gc():      deref() is ${ref.deref() === undefined ? 'undefined (collected)' : 'the object (kept alive)'}`);
