// objects.mjs -- load objects.wasm (built from objects.c) in node and wrap it.
// The module imports nothing, so plain WebAssembly.instantiate is enough.
import { readFileSync } from 'node:fs';

export async function loadObjects(wasmPath) {
  const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
  const ex = instance.exports;
  ex._initialize();
  return ex;
}

// A JavaScript object that owns an object in linear memory and relies on a
// FinalizationRegistry to free it: the pattern of the Z3 JavaScript API
// before release() existed.
export function makeWrapperClass(ex) {
  const registry = new FinalizationRegistry((handle) => ex.obj_free(handle));
  return class NativeObject {
    constructor(size) {
      const handle = ex.obj_new(size);
      if (handle === 0) {
        throw new Error(`out of memory: obj_new(${size}) returned NULL ` +
                        `(${ex.live_objects()} live objects, ${ex.current_pages()} pages)`);
      }
      this.handle = handle;
      // the held value is the handle, never `this` (that would keep it alive)
      registry.register(this, handle, this);
    }
    release() {
      if (this.handle === 0) return;          // idempotent
      registry.unregister(this);              // the finalizer must not free it again
      ex.obj_free(this.handle);
      this.handle = 0;
    }
  };
}

export function snapshot(ex) {
  return { live: ex.live_objects(), pages: ex.current_pages() };
}
