// A tiny observable value with a Preact hook.
import { useEffect, useState } from "preact/hooks";

export function signal(initial) {
  let value = initial;
  const subs = new Set();
  return {
    get: () => value,
    set(next) {
      value = next;
      for (const fn of subs) fn(value);
    },
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
  };
}

export function useSignal(sig) {
  const [value, setValue] = useState(sig.get());
  useEffect(() => sig.subscribe(setValue), [sig]);
  return value;
}
