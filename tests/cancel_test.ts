import assert from "node:assert/strict";
import {
  CancelledError,
  deadline,
  delay,
  InterruptSignal,
  orCancel,
  TimeoutError,
  timeoutSignal,
} from "../lib/cancel.ts";
import { startTimer } from "../lib/timer.ts";

/** An AbortSignal that counts its listeners, to prove they are removed. */
function countingSignal(): { controller: AbortController; live: () => number } {
  const controller = new AbortController();
  let live = 0;
  const signal = controller.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, fn: EventListener, opts?: AddEventListenerOptions) => {
    live++;
    add(type, fn, opts);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: EventListener) => {
    live--;
    remove(type, fn);
  }) as typeof signal.removeEventListener;
  return { controller, live: () => live };
}

Deno.test("orCancel resolves with the value and removes its listener", async () => {
  const { controller, live } = countingSignal();
  assert.equal(await orCancel(Promise.resolve(42), controller.signal), 42);
  assert.equal(live(), 0);
});

Deno.test("orCancel passes the promise's own rejection through and removes its listener", async () => {
  const { controller, live } = countingSignal();
  await assert.rejects(
    orCancel(Promise.reject(new RangeError("boom")), controller.signal),
    RangeError,
  );
  assert.equal(live(), 0);
});

Deno.test("orCancel rejects at once with CancelledError carrying the reason when already aborted", async () => {
  const controller = new AbortController();
  const reason = new InterruptSignal("SIGINT");
  controller.abort(reason);
  const error = await orCancel(new Promise(() => {}), controller.signal).catch((e) => e);
  assert.ok(error instanceof CancelledError);
  assert.equal(error.reason, reason);
});

Deno.test("orCancel rejects as soon as the signal aborts, long before the work ends", async () => {
  const { controller, live } = countingSignal();
  let settle!: (v: string) => void;
  const work = new Promise<string>((r) => settle = r);
  const pending = orCancel(work, controller.signal);
  controller.abort("stop");
  const error = await pending.catch((e) => e);
  assert.ok(error instanceof CancelledError);
  assert.equal(error.reason, "stop");
  settle("late"); // a late result is ignored, and the bookkeeping still ends
  await delay(0);
  assert.equal(live(), 0);
});

Deno.test("orCancel without a signal is the promise itself", async () => {
  assert.equal(await orCancel(Promise.resolve("x")), "x");
});

Deno.test("delay resolves after the time and rejects with CancelledError on abort", async () => {
  await delay(1);
  const controller = new AbortController();
  const pending = delay(60_000, { signal: controller.signal });
  controller.abort(new InterruptSignal("SIGTERM"));
  const error = await pending.catch((e) => e);
  assert.ok(error instanceof CancelledError);
  assert.ok(error.reason instanceof InterruptSignal);
  assert.equal(error.reason.signal, "SIGTERM");
});

Deno.test("delay with an aborted signal rejects without waiting", async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(delay(60_000, { signal: controller.signal }), CancelledError);
});

Deno.test("deadline resolves in time, rejects with TimeoutError when late, CancelledError on abort", async () => {
  assert.equal(await deadline(Promise.resolve(7), 1000), 7);
  const late = await deadline(new Promise(() => {}), 5, { message: "too slow" }).catch((e) => e);
  assert.ok(late instanceof TimeoutError);
  assert.equal(late.message, "too slow");
  assert.equal(late.ms, 5);
  const controller = new AbortController();
  const pending = deadline(new Promise(() => {}), 60_000, { signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, CancelledError);
});

Deno.test("deadline keeps the work's own error", async () => {
  await assert.rejects(deadline(Promise.reject(new SyntaxError("bad")), 1000), SyntaxError);
});

Deno.test("timeoutSignal aborts with TimeoutError after the bound and follows its parent", async () => {
  const t = timeoutSignal(5);
  await new Promise((r) => t.signal.addEventListener("abort", r));
  assert.ok(t.signal.reason instanceof TimeoutError);
  t.dispose();
  const parent = new AbortController();
  const child = timeoutSignal(60_000, parent.signal);
  parent.abort("user");
  assert.equal(child.signal.aborted, true);
  assert.equal(child.signal.reason, "user");
  child.dispose();
});

Deno.test("timeoutSignal: after dispose() a late timeout no longer aborts; an aborted parent aborts at once", async () => {
  const bound = timeoutSignal(1);
  bound.dispose();
  // A second, longer bound fires after the first one's time has passed.
  const later = timeoutSignal(20);
  await new Promise((r) => later.signal.addEventListener("abort", r));
  assert.equal(bound.signal.aborted, false);
  const parent = new AbortController();
  parent.abort(new InterruptSignal("SIGINT"));
  const child = timeoutSignal(60_000, parent.signal);
  assert.ok(child.signal.reason instanceof InterruptSignal);
});

Deno.test("a TimeoutError from an outer bound stays a TimeoutError through orCancel and deadline", async () => {
  const outer = timeoutSignal(5, undefined, "outer bound (--timeout)");
  const viaOrCancel = await orCancel(new Promise(() => {}), outer.signal).catch((e) => e);
  assert.ok(viaOrCancel instanceof TimeoutError);
  assert.equal(viaOrCancel.message, "outer bound (--timeout)");
  const viaDeadline = await deadline(new Promise(() => {}), 60_000, { signal: outer.signal })
    .catch((e) => e);
  assert.ok(viaDeadline instanceof TimeoutError);
  assert.equal(viaDeadline.message, "outer bound (--timeout)");
});

Deno.test("startTimer fires once after its delay, never once cancelled, and takes any delay", async () => {
  const fired: string[] = [];
  const cancel = startTimer(5, () => fired.push("cancelled one"));
  cancel();
  await new Promise<void>((resolve) => startTimer(20, () => resolve()));
  assert.deepEqual(fired, []);
  for (const ms of [-1, 0.5, Infinity, NaN, 1e300]) startTimer(ms, () => {})();
  const order: number[] = [];
  await Promise.all([10, 1].map((ms) =>
    new Promise<void>((resolve) =>
      startTimer(ms, () => {
        order.push(ms);
        resolve();
      })
    )
  ));
  assert.deepEqual(order, [1, 10]);
});
