// Two tabs of one browser and the voter pass (web/js/voter.js), in Node: this process is tab B.
// Tab A holds the pass lock while it renews a due pass the service sets aside, writes the new
// voter's pass and lets go; tab B, waiting its turn, gets the lock before its view of
// localStorage shows A's write (it catches up CATCH_UP_LAG_MS later, with a storage event, as
// browsers' tabs do). Prints what B did as JSON: the POST /voters it sent and the pass it used.
const [, , folder, lagArg] = process.argv;
const CATCH_UP_LAG_MS = Number(lagArg);
const TOKEN_KEY = "talkrate.voter";
const hour = 3_600_000;
const due = {
  voterToken: "v1.old-voter.sig",
  expiresAt: new Date(Date.now() + hour).toISOString(),
  renewAfter: new Date(Date.now() - 1000).toISOString(),
};
const fromA = {
  voterToken: "v1.voter-of-tab-a.sig",
  expiresAt: new Date(Date.now() + 4 * hour).toISOString(),
  renewAfter: new Date(Date.now() + 3 * hour).toISOString(),
  before: [],
};

// Tab B's view of the origin's localStorage.
const view = new Map([[TOKEN_KEY, JSON.stringify(due)]]);
globalThis.localStorage = {
  getItem: (key) => (view.has(key) ? view.get(key) : null),
  setItem: (key, value) => view.set(key, String(value)),
  removeItem: (key) => view.delete(key),
};
const target = new EventTarget();
globalThis.addEventListener = target.addEventListener.bind(target);
globalThis.removeEventListener = target.removeEventListener.bind(target);
class StorageEvent extends Event {
  constructor(key) {
    super("storage");
    this.key = key;
  }
}

// The origin's lock, held by tab A until it has written its pass.
let heldByA = true;
const waiting = [];
globalThis.navigator = {
  locks: {
    request(name, options, callback) {
      const granted = typeof options === "function" ? options : callback;
      const ifAvailable = typeof options === "object" && options.ifAvailable;
      if (!heldByA) return Promise.resolve(granted({ name }));
      if (ifAvailable) return Promise.resolve(granted(null));
      return new Promise((resolve) => waiting.push(() => resolve(granted({ name }))));
    },
  },
};

// The service: a due pass presented is set aside, answered with a new voter's pass.
const sent = [];
globalThis.fetch = async (path, { method, headers } = {}) => {
  if (path === "/voters" && method === "POST") {
    sent.push({ path, presented: headers["Voter-Token"] ?? null });
    const body = { voterToken: "v1.second-new-voter.sig", expiresAt: fromA.expiresAt, renewAfter: fromA.renewAfter, renewed: false };
    return new Response(JSON.stringify(body), { status: 201, headers: { "content-type": "application/json" } });
  }
  return new Response("{}", { status: 404, headers: { "content-type": "application/json" } });
};

const { voterToken } = await import(`${folder}/voter.js`);
const used = voterToken();
// Tab A lets go of the lock once its pass is written; tab B sees that write a moment later.
setTimeout(() => {
  heldByA = false;
  for (const grant of waiting.splice(0)) grant();
  setTimeout(() => {
    view.set(TOKEN_KEY, JSON.stringify(fromA));
    target.dispatchEvent(new StorageEvent(TOKEN_KEY));
  }, CATCH_UP_LAG_MS);
}, 20);
console.log(JSON.stringify({ sent, used: await used }));
