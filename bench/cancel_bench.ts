/**
 * Overhead of the cancellation helpers: `await orCancel(p, signal)` against a
 * bare `await p`.
 */
import { deadline, orCancel } from "../lib/cancel.ts";

const controller = new AbortController();

Deno.bench(
  "await a resolved promise (baseline)",
  { group: "orCancel", baseline: true },
  async () => {
    await Promise.resolve(1);
  },
);

Deno.bench("await orCancel(resolved promise, signal)", { group: "orCancel" }, async () => {
  await orCancel(Promise.resolve(1), controller.signal);
});

Deno.bench("await deadline(resolved promise, 1000 ms, signal)", { group: "orCancel" }, async () => {
  await deadline(Promise.resolve(1), 1000, { signal: controller.signal });
});
