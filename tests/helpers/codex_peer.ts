/**
 * The real codex CLI 0.169.0 as a test peer, run through `npx` offline: tests
 * that need it are skipped (visibly) unless it is already in the npx cache
 * (`npx -y @openai/codex@0.169.0 --version` once). Tests never download it.
 *
 * codex's own browser login has no issuer override: it always talks to
 * https://auth.openai.com. To run it against the local codex fake,
 * {@linkcode startAuthOpenAiStandIn} answers for that host through an HTTPS
 * proxy (`HTTPS_PROXY`) with a throwaway CA that codex trusts through its
 * `CODEX_CA_CERTIFICATE` setting — nothing on the machine (hosts file,
 * trust store) changes.
 *
 * @module
 */
import { type ChildResult, runChild } from "./spawn.ts";

/** The npm package spec of the peer. */
export const CODEX_PKG = "@openai/codex@0.169.0";

let available: boolean | undefined;

/** Whether `npx` can run codex 0.169.0 without the network (checked once per process). */
export function hasCodexPeer(): boolean {
  if (available !== undefined) return available;
  try {
    const out = new Deno.Command("npx", {
      args: ["-y", CODEX_PKG, "--version"],
      env: { npm_config_offline: "true" },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    available = out.success && new TextDecoder().decode(out.stdout).includes("0.169.0");
  } catch {
    available = false;
  }
  return available;
}

/**
 * Runs `codex args…` with `env` added to the inherited environment. Drops the
 * warning codex prints when CODEX_HOME is under the temp dir.
 *
 * @example
 * ```ts
 * const status = await runCodex(["login", "status"], { ...ss.env, CODEX_HOME: home });
 * ```
 */
export async function runCodex(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<ChildResult> {
  const out = await runChild("npx", ["-y", CODEX_PKG, ...args], {
    env: { npm_config_offline: "true", ...env },
    stdin,
  });
  const stderr = out.stderr.split("\n").filter((l) => !l.startsWith("WARNING: proceeding"))
    .join("\n");
  return { ...out, stderr };
}

/** Appended to a test name when codex is not available. */
export function noCodexNote(): string {
  return hasCodexPeer()
    ? ""
    : " [SKIPPED: codex 0.169.0 not in the npx cache; run npx -y @openai/codex@0.169.0 --version once]";
}

/** Spawns codex with piped output (for flows the test drives). */
export function spawnCodex(args: string[], env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command("npx", {
    args: ["-y", CODEX_PKG, ...args],
    env: { npm_config_offline: "true", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A stand-in for https://auth.openai.com that forwards to a local issuer. */
export interface AuthOpenAiStandIn {
  /** Environment for codex: `HTTPS_PROXY` and `CODEX_CA_CERTIFICATE`. */
  readonly env: Record<string, string>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a CONNECT proxy whose tunnels end at a TLS server presenting an
 * `auth.openai.com` certificate from a fresh CA, forwarding every request to
 * `issuerUrl` (e.g. the codex fake).
 */
export async function startAuthOpenAiStandIn(issuerUrl: string): Promise<AuthOpenAiStandIn> {
  const dir = await Deno.makeTempDir({ prefix: "cdx-tls-" });
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=cdx test CA",
  ]);
  await openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "srv.key",
    "-out",
    "srv.csr",
    "-subj",
    "/CN=auth.openai.com",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:auth.openai.com\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "srv.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "srv.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  ]);
  const tls = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(`${dir}/srv.pem`),
    key: await Deno.readTextFile(`${dir}/srv.key`),
    onListen() {},
  }, async (req) => {
    const url = new URL(req.url);
    const body = req.method === "GET" || req.method === "HEAD"
      ? undefined
      : await req.arrayBuffer();
    const res = await fetch(issuerUrl + url.pathname + url.search, {
      method: req.method,
      headers: req.headers,
      body,
      redirect: "manual",
    });
    return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
  });
  const proxy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const tunnel = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(4096);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) return;
      head += new TextDecoder().decode(buf.subarray(0, n));
    }
    if (!head.startsWith("CONNECT auth.openai.com:443 ")) {
      await conn.write(new TextEncoder().encode("HTTP/1.1 403 Forbidden\r\n\r\n"));
      return;
    }
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: tls.addr.port });
    conns.push(upstream);
    await conn.write(new TextEncoder().encode("HTTP/1.1 200 Connection established\r\n\r\n"));
    await Promise.allSettled([
      conn.readable.pipeTo(upstream.writable),
      upstream.readable.pipeTo(conn.writable),
    ]);
  };
  (async () => {
    try {
      for await (const conn of proxy) {
        conns.push(conn);
        tunnel(conn).catch(() => {});
      }
    } catch { /* closed */ }
  })();
  return {
    env: {
      HTTPS_PROXY: `http://127.0.0.1:${proxy.addr.port}`,
      CODEX_CA_CERTIFICATE: `${dir}/ca.pem`,
    },
    async [Symbol.asyncDispose]() {
      proxy.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await tls.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const CODEX_VERSION = CODEX_PKG.split("@").at(-1)!;

/** The codex 0.169.0 executable from the npx cache (native binary when present); undefined when absent. */
export function findCodex(): string[] | undefined {
  const explicit = Deno.env.get("CDX_PEER_CODEX");
  if (explicit) return explicit.endsWith(".js") ? ["node", explicit] : [explicit];
  const home = Deno.env.get("HOME");
  if (!home) return undefined;
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "x64";
  const triple = Deno.build.arch === "aarch64"
    ? "aarch64-unknown-linux-musl"
    : "x86_64-unknown-linux-musl";
  try {
    for (const entry of Deno.readDirSync(`${home}/.npm/_npx`)) {
      const base = `${home}/.npm/_npx/${entry.name}/node_modules/@openai`;
      try {
        const pkg = JSON.parse(Deno.readTextFileSync(`${base}/codex/package.json`));
        if (pkg.version !== CODEX_VERSION) continue;
        const native = `${base}/codex-linux-${arch}/vendor/${triple}/bin/codex`;
        try {
          if (Deno.statSync(native).isFile) return [native];
        } catch { /* only the JS launcher */ }
        return ["node", `${base}/codex/bin/codex.js`];
      } catch { /* not this one */ }
    }
  } catch { /* no npx cache */ }
  return undefined;
}
