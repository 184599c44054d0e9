/**
 * `cdx login`, `cdx login status`, `cdx login token`.
 *
 * @module
 */
import type { Context } from "../lib/context.ts";
import { CdxError, ExitCode, UsageError } from "../lib/errors.ts";
import { orCancel } from "../lib/cancel.ts";
import { guardPromptLine, startStatusLine } from "../lib/status_line.ts";
import { openBrowser } from "../lib/open_browser.ts";
import {
  apiKeyLogin,
  assertWritableHome,
  type AuthStatus,
  authStatus,
  BROWSER_LOGIN_WAIT_MS,
  checkForcedLoginMethod,
  CODEX_CLIENT_ID,
  currentToken,
  type DeviceCodePrompt,
  deviceLogin,
  isoMs,
  lastRefreshMs,
  loginInBrowser,
  parseIdClaims,
  tokenExpiryMs,
} from "../lib/auth/mod.ts";
import type { LoginOptions, LoginStatusOptions, LoginTokenOptions } from "./grammar.ts";

export type { LoginOptions, LoginStatusOptions, LoginTokenOptions } from "./grammar.ts";

/** Env var that multiplies every login wait and deadline (tests only; e.g. 0.01). */
export const POLL_SCALE_ENV = "CDX_TEST_POLL_SCALE";

function pollScale(ctx: Context): number | undefined {
  const raw = ctx.env.get(POLL_SCALE_ENV);
  if (!raw) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Options that make no sense together: usage errors before anything runs. */
function checkCombinations(options: LoginOptions): void {
  if (options.store === "ephemeral") {
    throw new UsageError(
      "--store ephemeral keeps credentials only in this process's memory, so a login would be lost when cdx exits",
      { hint: "log in with --store file, keyring or auto (ephemeral is for other commands)" },
    );
  }
  const given = (flagName: string, value: unknown) => value !== undefined ? [flagName] : [];
  if (options.withApiKey) {
    const clash = [
      ...given("--device-auth", options.deviceAuth),
      ...given("--issuer", options.issuer),
      ...given("--client-id", options.clientId),
      ...given("--scope", options.scope),
      ...given("--port", options.port),
    ];
    if (clash.length) {
      throw new UsageError(`--with-api-key cannot be combined with ${clash.join(", ")}`);
    }
  }
  if (options.deviceAuth && options.port !== undefined) {
    throw new UsageError("--port applies to the browser login, not --device-auth");
  }
}

/** `cdx login`. Returns the exit code. */
export async function runLogin(ctx: Context, options: LoginOptions): Promise<number> {
  checkCombinations(options);
  // Before any sign-in starts: a CODEX_HOME that cannot hold the result is an error now.
  await assertWritableHome(ctx.globals.codexHome);
  if (options.withApiKey) return await loginWithApiKey(ctx, options);
  checkForcedLoginMethod(ctx, "chatgpt");
  return options.deviceAuth
    ? await loginWithDeviceCode(ctx, options)
    : await loginWithBrowser(ctx, options);
}

/** Prefixes a plain failure (exit 1) the way codex reports a failed login or status. */
function prefixFailure(error: unknown, prefix: string): unknown {
  if (error instanceof CdxError && error.exitCode === ExitCode.FAILURE) {
    return new CdxError(`${prefix}: ${error.message}`, {
      hint: error.hint,
      cause: error,
      errorCode: error.errorCode,
    });
  }
  return error;
}

async function loginWithDeviceCode(ctx: Context, options: LoginOptions): Promise<number> {
  let stopCountdown = () => {};
  try {
    await deviceLogin(ctx, {
      issuer: options.issuer,
      clientId: options.clientId,
      scope: options.scope,
      store: options.store,
      pollScale: pollScale(ctx),
      onCode: async (prompt) => {
        await showCode(ctx, prompt);
        if (!options.noBrowser) {
          await openBrowser(ctx, prompt.verificationUriComplete ?? prompt.verificationUri);
        }
        stopCountdown = startCountdown(ctx, () => countdownText(ctx, prompt.expiresAt));
      },
    });
  } catch (error) {
    throw prefixFailure(error, "Error logging in with device code");
  } finally {
    stopCountdown();
  }
  await ctx.stderr.write("Successfully logged in\n");
  return ExitCode.OK;
}

function clockText(ms: number): string {
  const left = Math.max(0, ms);
  const m = Math.floor(left / 60_000);
  const s = Math.floor((left % 60_000) / 1000);
  return `${m}:${String(s).padStart(2, "0")}`;
}

/** On a terminal, a status line redrawn every second from `text`; returns what removes it. */
function startCountdown(ctx: Context, text: () => string): () => void {
  if (!ctx.stderr.isTTY) return () => {};
  const line = startStatusLine(ctx.stderr, text());
  const timer = setInterval(() => line.set(text()), 1000);
  return () => {
    clearInterval(timer);
    line.stop();
  };
}

/** Blue for what the user must open or type, gray for the rest, when stderr shows colour. */
function palette(ctx: Context): { blue(t: string): string; gray(t: string): string } {
  const color = ctx.stderr.color;
  return {
    blue: (t) => color ? `\x1b[94m${t}\x1b[0m` : t,
    gray: (t) => color ? `\x1b[90m${t}\x1b[0m` : t,
  };
}

function countdownText(ctx: Context, expiresAt: number): string {
  return `Waiting for approval... the code expires in ${clockText(expiresAt - ctx.clock.now())}`;
}

async function showCode(ctx: Context, prompt: DeviceCodePrompt & { flow: string }): Promise<void> {
  const { blue, gray } = palette(ctx);
  const minutes = Math.round(prompt.lifetimeMs / 60_000);
  const lines = [
    "",
    "Follow these steps to sign in using device code authorization:",
    "",
    "1. Open this link in your browser and sign in to your account",
    `   ${blue(prompt.verificationUri)}`,
    "",
    `2. Enter this one-time code ${gray(`(expires in ${minutes} minutes)`)}`,
    `   ${blue(prompt.userCode)}`,
    "",
  ];
  if (prompt.verificationUriComplete) {
    lines.push(
      "Or open this link, which fills in the code (check that it shows the same code):",
      `   ${blue(prompt.verificationUriComplete)}`,
      "",
    );
  }
  lines.push(
    gray(
      "Continue only if you started this login in cdx. If a website or another person gave you this code, cancel.",
    ),
    "",
  );
  await ctx.stderr.write(lines.join("\n") + "\n");
}

async function loginWithBrowser(ctx: Context, options: LoginOptions): Promise<number> {
  const scale = pollScale(ctx);
  let stopWaiting = () => {};
  let who = "";
  try {
    const result = await loginInBrowser(ctx, {
      issuer: options.issuer,
      clientId: options.clientId,
      scope: options.scope,
      store: options.store,
      port: options.port,
      waitMs: scale ? BROWSER_LOGIN_WAIT_MS * scale : undefined,
      onAuthorize: async (prompt) => {
        stopWaiting = await showAuthorize(ctx, prompt, options);
      },
    });
    stopWaiting();
    if (result.target.flavour === "oidc") {
      who = ` to ${result.target.issuer} as ${identity(result)}`;
    }
  } catch (error) {
    stopWaiting();
    throw prefixFailure(error, "Error logging in");
  }
  await ctx.stderr.write(`Successfully logged in${who}\n`);
  return ExitCode.OK;
}

function identity(result: { auth: { tokens?: { id_token: string } } }): string {
  const claims = parseIdClaims(result.auth.tokens?.id_token);
  return claims.email ?? claims.subject ?? "an account without email or subject";
}

const PASTE_PROMPT = "Paste the address here (or wait for the browser): ";

/**
 * Prints the link, opens a browser when one can be opened, and shows that
 * cdx is waiting: a ticking status line on a terminal, plain lines
 * otherwise, and — when no browser could be opened here and stdin is a
 * terminal — a prompt for the address the browser ended on. Returns the
 * function that ends the display.
 */
async function showAuthorize(
  ctx: Context,
  prompt: Parameters<Parameters<typeof loginInBrowser>[1]["onAuthorize"]>[0],
  options: LoginOptions,
): Promise<() => void> {
  const { blue, gray } = palette(ctx);
  const { target } = prompt;
  const opened = options.noBrowser
    ? { ok: false as const, reason: "--no-browser" }
    : await openBrowser(ctx, prompt.url);
  const minutes = Math.round((prompt.expiresAt - ctx.clock.now()) / 60_000);
  const lines = [
    "",
    target.flavour === "codex"
      ? "Sign in with your ChatGPT account in a browser:"
      : `Sign in to ${target.issuer} in a browser:`,
    "",
    `   ${blue(prompt.url)}`,
    "",
  ];
  const paste = !opened.ok && ctx.stdin.isTTY && ctx.stdin.readLine !== undefined;
  if (opened.ok) {
    lines.push("Your browser should have opened this link; if it did not, open it yourself.");
  } else {
    if (opened.reason !== "--no-browser") {
      lines.push(`cdx did not open a browser (${opened.reason}).`);
    }
    lines.push(
      "Open the link in a browser on any device and sign in. The browser is then sent to",
      `   ${prompt.redirectUri}?code=…`,
      "which reaches cdx only on this machine. If the browser runs on another one:",
      ...(paste ? ["  - copy the address of the page that fails to load and paste it below,"] : []),
      `  - or forward the port before you sign in: ${
        gray(`ssh -L ${prompt.port}:127.0.0.1:${prompt.port} <this host>`)
      },`,
      `  - or use ${gray("cdx login --device-auth")} instead.`,
    );
  }
  lines.push("", gray(`Waiting up to ${minutes} minutes (Ctrl-C cancels).`), "");
  await ctx.stderr.write(lines.join("\n") + "\n");

  if (paste) {
    // The cursor sits after the prompt until the user presses Enter: any other output (a note
    // of the save, a warning) ends that line first.
    const promptLine = { open: false };
    const guard = guardPromptLine(
      ctx.stderr,
      () => promptLine.open,
      () => (promptLine.open = false),
    );
    void readPasted(ctx, prompt, promptLine);
    return () => {
      guard.stop();
      if (promptLine.open) ctx.stderr.writeSync("\n");
      promptLine.open = false;
    };
  }
  return startCountdown(
    ctx,
    () =>
      `Waiting for the sign-in in the browser... ${
        clockText(prompt.expiresAt - ctx.clock.now())
      } left`,
  );
}

/** Reads pasted addresses until one is taken, stdin ends or the login stops waiting. */
async function readPasted(
  ctx: Context,
  prompt: {
    submitPasted(text: string): { ok: true } | { ok: false; message: string };
    signal: AbortSignal;
  },
  promptLine: { open: boolean },
): Promise<void> {
  let notice = "";
  while (!prompt.signal.aborted) {
    await ctx.stderr.write(notice + PASTE_PROMPT);
    promptLine.open = true;
    let line: string | undefined;
    try {
      line = await orCancel(ctx.stdin.readLine!(prompt.signal), prompt.signal);
    } catch {
      return; // the login stopped waiting (or stdin failed): the callback may still arrive
    }
    if (line === undefined) return; // end of input: only the browser can answer now
    promptLine.open = false;
    if (!line.trim()) continue;
    const verdict = prompt.submitPasted(line);
    if (verdict.ok) return;
    notice = `${verdict.message}\n`;
  }
}

async function loginWithApiKey(ctx: Context, options: LoginOptions): Promise<number> {
  checkForcedLoginMethod(ctx, "api");
  // Missing input is a usage error (exit 2); the messages are codex's.
  if (ctx.stdin.isTTY) {
    throw new UsageError(
      "--with-api-key expects the API key on stdin. Try piping it, e.g. `printenv OPENAI_API_KEY | cdx login --with-api-key`.",
    );
  }
  await ctx.stderr.write("Reading API key from stdin...\n");
  const text = await orCancel(new Response(ctx.stdin.readable).text(), ctx.signal);
  ctx.secrets.register(text);
  const key = text.trim();
  if (!key) throw new UsageError("No API key provided via stdin.");
  ctx.secrets.register(key);
  await apiKeyLogin(ctx, key, { store: options.store });
  await ctx.stderr.write("API key saved. Authentication is checked when you send a request.\n");
  return ExitCode.OK;
}

/** `cdx login status`. Returns the exit code: 0 logged in, 1 not, 3 unknown. */
export async function runLoginStatus(ctx: Context, options: LoginStatusOptions): Promise<number> {
  let status: AuthStatus;
  try {
    status = await authStatus(ctx, { store: options.store });
  } catch (error) {
    throw prefixFailure(error, "Error checking login status");
  }
  if (options.json) await ctx.stdout.write(JSON.stringify(status, null, 2) + "\n");
  else await ctx.stdout.write(formatStatus(status, ctx.clock.now()));
  return status.state === "logged_in"
    ? ExitCode.OK
    : status.state === "unknown"
    ? ExitCode.STORE_UNAVAILABLE
    : ExitCode.FAILURE;
}

function relative(ms: number): string {
  const abs = Math.abs(ms);
  const min = Math.round(abs / 60_000);
  const text = min < 1
    ? "less than a minute"
    : min < 120
    ? `${min} min`
    : min < 48 * 60
    ? `${Math.round(min / 60)} h`
    : `${Math.round(min / 1440)} days`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

const SOURCE_NAMES = { option: "--store", env: "CDX_CREDENTIALS_STORE", config: "config.toml" };

/** The human form of the status (the first line is codex's where codex has one). */
export function formatStatus(status: AuthStatus, nowMs: number): string {
  const lines: string[] = [];
  const s = status.store;
  if (status.state === "unknown") {
    lines.push("Login state unknown: the keychain could not be read");
    if (s.keychain_error) lines.push(`Keychain: ${s.keychain_error}`);
    lines.push(
      "hint: unlock the keychain (log in to the desktop session), or use `--store file` to keep credentials in auth.json",
    );
  } else if (!status.logged_in) {
    lines.push("Not logged in");
  } else if (status.auth_mode === "apikey") {
    lines.push(
      `API key configured - ${status.api_key}${
        status.source === "env" ? ` (from ${status.env_var})` : ""
      }`,
    );
    lines.push("Authentication is checked when you send a request.");
  } else if (status.auth_mode === "chatgpt") {
    // A standard OIDC issuer: tokens issued to another client than codex's.
    const standard = status.issuer !== undefined && status.client_id !== undefined &&
      status.client_id !== CODEX_CLIENT_ID;
    if (standard) {
      lines.push(`Logged in to ${status.issuer} as ${status.email ?? status.subject ?? "unknown"}`);
    } else lines.push("Logged in using ChatGPT");
    const who = [
      standard ? undefined : status.email,
      status.plan ? `plan ${status.plan}` : undefined,
      status.account_id ? `account ${status.account_id}` : undefined,
    ].filter(Boolean);
    if (who.length) lines.push(`Account: ${who.join(", ")}`);
    if (status.access_token_expires_at) {
      const exp = Date.parse(status.access_token_expires_at);
      lines.push(
        status.access_token_expired
          ? `Access token: expired ${status.access_token_expires_at} (${
            relative(exp - nowMs)
          }); it is refreshed on next use`
          : `Access token: expires ${status.access_token_expires_at} (${relative(exp - nowMs)})`,
      );
    }
    if (status.issuer && !standard) lines.push(`Issuer: ${status.issuer}`);
  } else {
    lines.push(`Logged in (auth mode ${status.auth_mode})`);
  }
  const source = s.mode_source === "default" ? "default" : `from ${SOURCE_NAMES[s.mode_source]}`;
  if (s.location === "keyring") {
    lines.push(`Stored in: keychain — ${s.backend}, item "${s.service}" / "${s.account}"`);
  } else if (s.location === "file" || s.location === "legacy-file") {
    lines.push(`Stored in: file ${s.path}`);
  } else if (s.location === "memory") {
    lines.push("Stored in: memory (ephemeral; nothing on disk)");
  }
  lines.push(`Store mode: ${s.mode} (${source})`);
  if (s.keychain === "unavailable" && s.mode === "auto" && status.state !== "unknown") {
    lines.push(`Keychain: not available (${s.keychain_error})`);
  }
  for (const p of status.pending) lines.push(`Pending: ${p}`);
  for (const w of status.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n") + "\n";
}

/** The `--json` output of `cdx login token` (version 1, `schemas/token.json`). */
export interface TokenReport {
  /** Version of this shape (`schemas/token.json`); bumped on incompatible changes. */
  version: 1;
  /** `apikey` or `chatgpt`, as in `login status --json` and auth.json. */
  auth_mode: "apikey" | "chatgpt";
  /** Deprecated: the same as `auth_mode` (kept for scripts written for cdx 0.1). */
  kind: "apikey" | "chatgpt";
  /** The bearer credential. */
  token: string;
  /** When the access token expires (RFC 3339, ms); null for an API key or a token without `exp`. */
  expires_at: string | null;
  /** The ChatGPT account id, when there is one. */
  account_id: string | null;
  /** When the tokens were last refreshed (RFC 3339, ms), when known. */
  last_refresh: string | null;
}

/** `cdx login token`. Returns the exit code. */
export async function runLoginToken(ctx: Context, options: LoginTokenOptions): Promise<number> {
  const { auth, request } = await currentToken(ctx, { store: options.store });
  const token = request.kind === "apikey" ? request.apiKey : request.accessToken;
  if (options.json) {
    const exp = request.kind === "chatgpt" ? tokenExpiryMs(request.accessToken) : undefined;
    const refreshed = lastRefreshMs(auth);
    const report: TokenReport = {
      version: 1,
      auth_mode: request.kind,
      kind: request.kind,
      token,
      expires_at: exp === undefined ? null : isoMs(exp),
      account_id: request.kind === "chatgpt" ? request.accountId ?? null : null,
      // auth.json keeps codex's nanosecond format; the JSON output has one timestamp format.
      last_refresh: refreshed === undefined ? null : isoMs(refreshed),
    };
    await ctx.stdout.write(JSON.stringify(report) + "\n");
  } else {
    await ctx.stdout.write(`${token}\n`);
  }
  return ExitCode.OK;
}
