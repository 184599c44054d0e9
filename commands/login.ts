/**
 * `cdx login`, `cdx login status`, `cdx login token`.
 *
 * @module
 */
import { longestMatch, object } from "@optique/core/constructs";
import { command, constant, flag, option } from "@optique/core/primitives";
import { optional } from "@optique/core/modifiers";
import { string } from "@optique/core/valueparser";
import { message } from "@optique/core/message";
import type { InferValue } from "@optique/core/parser";
import type { Context } from "../lib/context.ts";
import { CdxError, ExitCode } from "../lib/errors.ts";
import { orCancel } from "../lib/cancel.ts";
import {
  apiKeyLogin,
  assertWritableHome,
  type AuthStatus,
  authStatus,
  checkForcedLoginMethod,
  currentToken,
  type DeviceCodePrompt,
  deviceLogin,
  ISSUER_ENV,
  tokenExpiryMs,
} from "../lib/auth/mod.ts";
import { jsonOption, storeOption } from "./options.ts";

const loginStatus = command(
  "status",
  object({ command: constant("login-status" as const), store: storeOption, json: jsonOption }),
  {
    brief: message`Show how you are logged in`,
    description:
      message`Shows the account or masked API key, where the credentials live and when the token expires. Exit 0 when logged in, 1 when not.`,
  },
);

const loginToken = command(
  "token",
  object({ command: constant("login-token" as const), store: storeOption, json: jsonOption }),
  {
    brief: message`Print the bearer credential for scripts`,
    description:
      message`Prints the access token (or API key) on stdout, refreshing it first when it has expired.`,
  },
);

const loginMain = object({
  command: constant("login" as const),
  withApiKey: optional(
    flag("--with-api-key", { description: message`read an API key from stdin and save it` }),
  ),
  issuer: optional(
    option("--issuer", string({ metavar: "URL" }), {
      description: message`OAuth issuer (default https://auth.openai.com; env ${"CDX_ISSUER"})`,
    }),
  ),
  clientId: optional(
    option("--client-id", string({ metavar: "ID" }), {
      description: message`OAuth client id for a standard RFC 8628 issuer`,
    }),
  ),
  scope: optional(
    option("--scope", string({ metavar: "SCOPE" }), {
      description: message`OAuth scope for a standard RFC 8628 issuer`,
    }),
  ),
  noBrowser: optional(
    flag("--no-browser", { description: message`do not try to open the verification page` }),
  ),
  store: storeOption,
});

/** The `login` command and its subcommands. */
export const loginCommand = command("login", longestMatch(loginStatus, loginToken, loginMain), {
  brief: message`Log in with a device code or an API key`,
  description:
    message`Signs in with a device code (default) or an API key read from stdin, and stores the credentials where codex finds them.`,
  footer: message`Examples:
  cdx login
  printenv OPENAI_API_KEY | cdx login --with-api-key
  cdx login status --json
  curl -H "Authorization: Bearer $(cdx login token)" ...`,
});

/** Options of `cdx login`. */
export type LoginOptions = Extract<InferValue<typeof loginCommand>, { command: "login" }>;
/** Options of `cdx login status`. */
export type LoginStatusOptions = Extract<
  InferValue<typeof loginCommand>,
  { command: "login-status" }
>;
/** Options of `cdx login token`. */
export type LoginTokenOptions = Extract<
  InferValue<typeof loginCommand>,
  { command: "login-token" }
>;

/** Env var that multiplies every device-flow wait and deadline (tests only; e.g. 0.01). */
export const POLL_SCALE_ENV = "CDX_TEST_POLL_SCALE";

function pollScale(ctx: Context): number | undefined {
  const raw = ctx.env.get(POLL_SCALE_ENV);
  if (!raw) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** `cdx login`. Returns the exit code. */
export async function runLogin(ctx: Context, options: LoginOptions): Promise<number> {
  // Before any sign-in starts: a CODEX_HOME that cannot hold the result is an error now.
  await assertWritableHome(ctx.globals.codexHome);
  if (options.withApiKey) return await loginWithApiKey(ctx, options);
  checkForcedLoginMethod(ctx, "chatgpt");
  const issuer = options.issuer ?? (ctx.env.get(ISSUER_ENV) || undefined);
  const stopCountdown: Array<() => void> = [];
  try {
    await deviceLogin(ctx, {
      issuer,
      clientId: options.clientId,
      scope: options.scope,
      store: options.store,
      pollScale: pollScale(ctx),
      onCode: async (prompt) => {
        await showCode(ctx, prompt);
        if (!options.noBrowser) {
          await openBrowser(ctx, prompt.verificationUriComplete ?? prompt.verificationUri);
        }
        if (ctx.stderr.isTTY) stopCountdown.push(startCountdown(ctx, prompt));
      },
    });
  } catch (error) {
    if (error instanceof CdxError && error.exitCode === ExitCode.FAILURE) {
      throw new CdxError(`Error logging in with device code: ${error.message}`, {
        hint: error.hint,
        cause: error,
      });
    }
    throw error;
  } finally {
    for (const stop of stopCountdown) stop();
  }
  await ctx.stderr.write("Successfully logged in\n");
  return ExitCode.OK;
}

async function showCode(ctx: Context, prompt: DeviceCodePrompt & { flow: string }): Promise<void> {
  const color = ctx.stderr.color;
  const blue = (t: string) => color ? `\x1b[94m${t}\x1b[0m` : t;
  const gray = (t: string) => color ? `\x1b[90m${t}\x1b[0m` : t;
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

/** A one-line countdown on a terminal until the code expires; returns its stopper. */
function startCountdown(ctx: Context, prompt: DeviceCodePrompt): () => void {
  const render = () => {
    const left = Math.max(0, prompt.expiresAt - ctx.clock.now());
    const m = Math.floor(left / 60_000);
    const s = Math.floor((left % 60_000) / 1000);
    ctx.stderr.writeSync(
      `\r\x1b[2KWaiting for approval... the code expires in ${m}:${String(s).padStart(2, "0")}`,
    );
  };
  render();
  const timer = setInterval(render, 1000);
  return () => {
    clearInterval(timer);
    ctx.stderr.writeSync("\r\x1b[2K");
  };
}

/**
 * Opens the verification page when a desktop session is likely (never on
 * SSH or CI, never without a terminal); a failure only means the user
 * opens it by hand.
 */
async function openBrowser(ctx: Context, url: string): Promise<void> {
  if (!ctx.stderr.isTTY) return;
  if (ctx.env.get("SSH_CONNECTION") || ctx.env.get("SSH_TTY") || ctx.env.get("CI")) return;
  let cmd: string;
  if (ctx.os === "darwin") cmd = "open";
  else if (ctx.os === "windows") return;
  else {
    if (!ctx.env.get("DISPLAY") && !ctx.env.get("WAYLAND_DISPLAY")) return;
    cmd = "xdg-open";
  }
  try {
    await ctx.runner.run(cmd, [url], { timeoutMs: 3000, signal: ctx.signal });
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    ctx.logger.getChild("auth").debug("could not open a browser: {error}", {
      error: (error as Error).message,
    });
  }
}

async function loginWithApiKey(ctx: Context, options: LoginOptions): Promise<number> {
  checkForcedLoginMethod(ctx, "api");
  if (ctx.stdin.isTTY) {
    throw new CdxError(
      "--with-api-key expects the API key on stdin. Try piping it, e.g. `printenv OPENAI_API_KEY | cdx login --with-api-key`.",
    );
  }
  await ctx.stderr.write("Reading API key from stdin...\n");
  const text = await orCancel(new Response(ctx.stdin.readable).text(), ctx.signal);
  ctx.secrets.register(text);
  const key = text.trim();
  if (!key) throw new CdxError("No API key provided via stdin.");
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
    if (error instanceof CdxError && error.exitCode === ExitCode.FAILURE) {
      throw new CdxError(`Error checking login status: ${error.message}`, {
        hint: error.hint,
        cause: error,
      });
    }
    throw error;
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
    const standard = status.issuer !== undefined && status.issuer !== "https://auth.openai.com" &&
      status.plan === undefined;
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

/** `cdx login token`. Returns the exit code. */
export async function runLoginToken(ctx: Context, options: LoginTokenOptions): Promise<number> {
  const { auth, request } = await currentToken(ctx, { store: options.store });
  const token = request.kind === "apikey" ? request.apiKey : request.accessToken;
  if (options.json) {
    const exp = request.kind === "chatgpt" ? tokenExpiryMs(request.accessToken) : undefined;
    await ctx.stdout.write(
      JSON.stringify({
        version: 1,
        kind: request.kind,
        token,
        expires_at: exp === undefined ? null : new Date(exp).toISOString(),
        account_id: request.kind === "chatgpt" ? request.accountId ?? null : null,
        last_refresh: auth.last_refresh ?? null,
      }) + "\n",
    );
  } else {
    await ctx.stdout.write(`${token}\n`);
  }
  return ExitCode.OK;
}
