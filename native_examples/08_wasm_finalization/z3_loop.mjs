// z3_loop.mjs -- the Z3 JavaScript API (npm z3-solver) in a loop.
// Run: node --expose-gc z3_loop.mjs MODE [ITERATIONS] [MEMORY_MAX_MB]
//   MODE leak     new Solver() + add() each iteration, no release(): wait for finalizers
//        release  the same, calling s.release() at the end of each iteration
//        yield    no release(), but gc() and a macrotask (setTimeout 0) each iteration
//        double   release() twice
//        after    use a solver after release()
// Which classes have release(): the notebook reads the installed package's source
// (node_modules/z3-solver/build/high-level/high-level.js).
// Z3's own allocator limit is set with setParam('memory_max_size', MB); the
// estimate Z3 keeps of its allocated bytes is printed (Z3_get_estimated_alloc_size).
// Run it in a child process with a timeout: an exhausted context may hang later calls.
import { init } from 'z3-solver';
import { createRequire } from 'node:module';

const [mode = 'leak', iterArg = '200', memArg = '20'] = process.argv.slice(2);
const iterations = Number(iterArg);
const { Context, setParam, getVersionString, Z3 } = await init();
const ctx = new Context('main');
const allocMB = () => Number(Z3.get_estimated_alloc_size()) / 2 ** 20;
const pkg = createRequire(import.meta.url)('z3-solver/package.json');
console.log(`npm z3-solver ${pkg.version} (Z3 ${getVersionString()} inside), memory_max_size = ${memArg} MB`);

function finish(summary) {
  console.log(JSON.stringify(summary));
  process.exit(0);   // the z3 module keeps worker threads: exit explicitly
}

function oneSolver(i) {
  const s = new ctx.Solver();
  const x = ctx.Int.const('x');
  const y = ctx.Int.const('y');
  s.add(x.gt(y), y.gt(i));
  return s;
}

if (mode === 'double' || mode === 'after') {
  const s = oneSolver(0);
  s.release();
  console.log('first release(): ok');
  try {
    if (mode === 'double') { s.release(); console.log('second release(): ok'); }
    else { await s.check(); console.log('check() after release(): ok'); }
  } catch (e) {
    console.log(`${mode === 'double' ? 'second release()' : 'check() after release()'}: ${e.name}: ${e.message}`);
    finish({ mode, error: `${e.name}: ${e.message}` });
  }
  finish({ mode, error: null });
}

setParam('memory_max_size', memArg);
if (mode === 'yield' && typeof globalThis.gc !== 'function') {
  console.error('mode yield needs: node --expose-gc z3_loop.mjs yield');
  process.exit(2);
}
const trace = [allocMB()];
let error = null;
let done = 0;
for (let i = 0; i < iterations; i++) {
  try {
    const s = oneSolver(i);
    if (mode === 'release') s.release();
  } catch (e) {
    error = `${e.name}: ${e.message}`;
    console.log(`iteration ${i}: ${error}`);
    break;
  }
  done = i + 1;
  if (mode === 'yield') {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 0));
  }
  trace.push(allocMB());
  if (done % 100 === 0) console.log(`iteration ${done}: ok`);
}
console.log(`${mode}: ${done} of ${iterations} iterations done`);
finish({ mode, iterations, done, error, trace });
