/**
 * The shape the conventions promise, checked: `lib/` never imports
 * `commands/` or `cli.ts`, no import cycles anywhere in cdx's own modules
 * (static, dynamic and type-only imports), no `lib/` file over ~300 lines without a
 * reason in its header, and children are spawned in one place.
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers/cli.ts";

interface InfoModule {
  specifier: string;
  dependencies?: Array<
    { specifier: string; code?: { specifier: string }; type?: { specifier: string } }
  >;
}

async function moduleGraph(): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", `${ROOT}/deno.json`, `${ROOT}/cli.ts`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
  const own = (s: string) => s.startsWith(`file://${ROOT}/`);
  const graph = new Map<string, string[]>();
  for (const m of info.modules) {
    if (!own(m.specifier)) continue;
    const deps = (m.dependencies ?? [])
      .flatMap((d) => [d.code?.specifier, d.type?.specifier])
      .filter((s): s is string => !!s && own(s));
    graph.set(
      m.specifier.slice(`file://${ROOT}/`.length),
      deps.map((s) => s.slice(`file://${ROOT}/`.length)),
    );
  }
  return graph;
}

function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "visiting") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "visiting");
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

Deno.test("cdx's module graph has no import cycle, and lib/ never imports commands/ or cli.ts", async () => {
  const graph = await moduleGraph();
  assert.ok(graph.size > 40, "the graph was read");
  assert.equal(findCycle(graph)?.join(" → "), undefined);
  for (const [from, deps] of graph) {
    if (!from.startsWith("lib/")) continue;
    for (const dep of deps) {
      assert.ok(!dep.startsWith("commands/") && dep !== "cli.ts", `${from} imports ${dep}`);
    }
  }
});

Deno.test("the cycle finder finds a cycle (the test above can fail)", () => {
  const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", []]]);
  assert.deepEqual(findCycle(graph), ["a", "b", "c", "a"]);
});

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* tsFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("no lib/ file is over 300 lines without saying why in its header", async () => {
  const long: string[] = [];
  for await (const path of tsFiles(`${ROOT}/lib`)) {
    const text = await Deno.readTextFile(path);
    const lines = text.split("\n").length;
    const header = text.slice(0, text.indexOf("@module"));
    if (lines > 300 && !/longer than 300 lines/i.test(header)) {
      long.push(`${path.slice(ROOT.length + 1)} (${lines} lines)`);
    }
  }
  assert.deepEqual(long, []);
});

Deno.test("children are spawned only in lib/process.ts", async () => {
  const offenders: string[] = [];
  for (const dir of ["lib", "commands"]) {
    for await (const path of tsFiles(`${ROOT}/${dir}`)) {
      if (path.endsWith("lib/process.ts")) continue;
      if ((await Deno.readTextFile(path)).includes("new Deno.Command")) offenders.push(path);
    }
  }
  assert.deepEqual(offenders, []);
});
