// A real Matrix client library (matrix-js-sdk) against the sample homeserver, the way Element runs it: startClient() with
// its default 30 s long-polls. Usage: node check_presence.mjs BASE_URL SERVER_NAME IDLE_TIMEOUT_SECONDS
// The server runs with a short idle timeout (say 20 s) and a sync timeout (10 s) SHORTER than the client's 30 s long-poll:
// a server that counted a sync as connected only at its start and end would drop the device in the middle of every poll,
// and watchers would see offline/online flapping. Exit 0 when every check passes.
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";

logger.setLevel("error");
const [base, server, idleArg] = process.argv.slice(2);
const idleMs = Number(idleArg ?? "20") * 1000;
const alice = `@alice:${server}`;
const bob = `@bob:${server}`;
const syncs = []; // every /sync request: who, the timeout asked for, how long it took
const requests = new Set(); // every other request: method, path, status (VERBOSE=1 prints them)
const seen = []; // every presence change of bob that alice's sync loop delivered
const failures = [];
let passed = 0;
const check = (ok, what) => (ok ? passed++ : failures.push(what));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function client(localpart) {
  const userId = `@${localpart}:${server}`;
  const fetchFn = async (url, init) => {
    const u = new URL(url);
    const started = Date.now();
    const response = await fetch(url, init);
    if (u.pathname.endsWith("/sync")) {
      syncs.push({ user: userId, timeout: u.searchParams.get("timeout"), ms: Date.now() - started, status: response.status });
    } else {
      requests.add(`${init?.method ?? "GET"} ${u.pathname.replaceAll(encodeURIComponent(userId), "{userId}")} ${response.status}`);
    }
    return response;
  };
  return sdk.createClient({ baseUrl: base, accessToken: `token-${localpart}`, userId, deviceId: `DEV-${localpart}`, fetchFn });
}

function prepared(c) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${c.getUserId()} did not reach PREPARED`)), 20_000);
    c.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
      if (state === "PREPARED" || state === "SYNCING") { clearTimeout(timer); resolve(); }
      if (state === "ERROR") { clearTimeout(timer); reject(new Error(`${c.getUserId()} sync error: ${data?.error}`)); }
    });
  });
}

async function until(predicate, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (predicate()) return true;
    await sleep(200);
  }
  return predicate();
}

const a = client("alice");
const b = client("bob");
// LastPresenceTs fires for every m.presence event the sync loop applies (User.presence only when the state changes).
a.on(sdk.UserEvent.LastPresenceTs, (event, user) => {
  const content = event.getContent();
  if (user.userId === bob) seen.push({ at: Date.now(), presence: content.presence, status: content.status_msg, active: content.currently_active });
});

try {
  await Promise.all([a.startClient(), b.startClient()]); // default pollTimeout: 30 s long-polls
  await Promise.all([prepared(a), prepared(b)]);
  check(true, "startClient() reached PREPARED for both");

  const setAt = Date.now();
  await b.setPresence({ presence: "online", status_msg: "from matrix-js-sdk" });
  check(await until(() => seen.some((s) => s.presence === "online" && s.status === "from matrix-js-sdk"), 15_000),
    `alice's sync loop never delivered bob's online + status (saw ${JSON.stringify(seen)})`);

  const becameIdle = await until(() => seen.some((s) => s.presence === "unavailable"), idleMs + 20_000);
  const idleAt = seen.find((s) => s.presence === "unavailable")?.at;
  check(becameIdle && idleAt - setAt >= idleMs - 1000,
    `bob did not become unavailable after the ${idleMs / 1000} s idle timeout (after ${(idleAt - setAt) / 1000} s; saw ${JSON.stringify(seen)})`);

  // Keep both clients long-polling until at least one 30 s poll has run to its end with nothing to say.
  const fullPoll = await until(() => syncs.some((s) => s.timeout === "30000" && s.ms >= 29_000), 40_000);
  check(fullPoll, `no /sync long-poll ran its full 30 s (syncs: ${JSON.stringify(syncs.slice(-6))})`);

  const firstOnline = seen.findIndex((s) => s.presence === "online");
  const after = seen.slice(firstOnline).map((s) => s.presence);
  const flaps = after.filter((p) => p === "offline").length;
  const backOnline = after.slice(after.indexOf("unavailable")).includes("online");
  check(firstOnline >= 0 && flaps === 0 && !backOnline,
    `bob flapped: alice saw ${JSON.stringify(after)} (expected online ... unavailable, no offline, no return to online)`);

  const read = await a.getPresence(bob);
  check(read.presence === "unavailable", `GET presence of bob says ${JSON.stringify(read)}`);
} catch (error) {
  failures.push(String(error?.stack ?? error));
} finally {
  a.stopClient();
  b.stopClient();
}

for (const failure of failures) console.log("js-sdk check failed:", failure);
if (process.env.VERBOSE) console.log(JSON.stringify({ seen, syncs, requests: [...requests] }, null, 1));
console.log(`matrix-js-sdk: ${passed} of ${passed + failures.length} checks passed (${syncs.length} syncs, longest ${Math.max(0, ...syncs.map((s) => s.ms))} ms)`);
process.exit(failures.length === 0 ? 0 : 1);
