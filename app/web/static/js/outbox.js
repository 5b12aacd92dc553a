// Every write the web app makes waits here (in the page and in localStorage) until the service has it.
//
// A write is {kind, method, path, body, listId, id, where}: `kind` names what the page shows it
// changing ("list", "todo", "member", "share-link", "invitation"), `id` the object it changes
// (none for a create), `listId` the list that object belongs to, and `where` the fields of the
// objects a bulk DELETE removes. Each write gets an Idempotency-Key when it is queued and keeps
// it for every attempt, so a POST whose answer was lost is replayed by the service, not done
// twice. Writes go out one at a time, in order. An object created offline has a temporary id
// ("tmp-<key>"); later writes name that id (in their path, `id` or `listId`) and are sent to
// the real one once the create has been answered.

import { api, ApiError, NetworkError, newKey } from "./api.js";

const RETRY_MS = 4000;
const KEEP_LATE = 20;
const TEMP = /tmp-[0-9a-f-]+/g;

/** Whether an id is one the page made up for an object not yet created on the service. */
export const isTemp = (id) => typeof id === "string" && id.startsWith("tmp-");

// How an object created offline looks until the service answers with the real one.
const DRAFTS = {
  list: (body) => ({ description: null, ...body, role: "owner", todo_count: 0, completed_count: 0 }),
  todo: (body, entry) => ({ ...body, list_id: entry.listId, completed: Boolean(body.completed), tags: body.tags || [] }),
  member: (body, entry) => ({ ...body, list_id: entry.listId, display_name: null }),
  "share-link": (body, entry) => ({ ...body, list_id: entry.listId, created_at: new Date(entry.queuedAt).toISOString() }),
  invitation: (body, entry) => ({ ...body, list_id: entry.listId, expires_at: null }),
};

// Writes queued before the outbox knew kinds were all writes to todos.
const upgrade = (entry) => (entry.kind ? entry : { ...entry, kind: "todo", id: entry.todoId });

export class Outbox {
  constructor(userId, { onChange = () => {}, onSent = () => {}, onFailed = () => {} } = {}) {
    this.storageKey = `todos.outbox.${userId}`;
    this.onChange = onChange;
    this.onSent = onSent;
    this.onFailed = onFailed;
    const saved = this._load();
    this.entries = saved.entries;
    this.resolved = saved.resolved; // temporary id -> real id
    this.flushing = null;
    this.waiters = new Map(); // key -> {resolve, reject} of a submit() still waiting for its answer
    // Answers to creates sent after their submit() stopped waiting; in the page only, as they may hold
    // a secret shown once (a share link's URL).
    this.late = [];
    this._online = () => this.flush();
    window.addEventListener("online", this._online);
    // Another tab of the same user changed the outbox: take its view, so no write is forgotten.
    this._storage = (event) => {
      if (event.key !== this.storageKey) return;
      const saved = this._load();
      this.entries = saved.entries;
      this.resolved = { ...this.resolved, ...saved.resolved };
      this.onChange(this.entries);
    };
    window.addEventListener("storage", this._storage);
    this.timer = setInterval(() => this.entries.length && this.flush(), RETRY_MS);
  }

  close() {
    window.removeEventListener("online", this._online);
    window.removeEventListener("storage", this._storage);
    clearInterval(this.timer);
  }

  _load() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) || "{}");
      return { entries: (saved.entries || []).map(upgrade), resolved: saved.resolved || {} };
    } catch (e) {
      return { entries: [], resolved: {} };
    }
  }

  _save() {
    const done = Object.keys(this.resolved);
    if (done.length > 500) for (const tmp of done.slice(0, done.length - 200)) delete this.resolved[tmp];
    localStorage.setItem(this.storageKey, JSON.stringify({ entries: this.entries, resolved: this.resolved }));
    this.onChange(this.entries);
  }

  get pending() {
    return this.entries.length;
  }

  /** The real id of `id` once its create has been answered; `id` itself until then (and for real ids). */
  real(id) {
    return (isTemp(id) && this.resolved[id]) || id;
  }

  /**
   * Queue a write and try to send it. Resolves with the service's answer once sent, or with
   * {queued: true, id (a create's temporary id)} when it has to wait; rejects with the ApiError
   * the service gave it. A queued write the service refuses later is reported through onFailed;
   * a queued create's answer is kept for takeLate().
   */
  submit({ kind, method, path, body, listId, id, where }) {
    const key = newKey();
    const entry = { key, kind, method, path, body, listId, id, where, queuedAt: Date.now() };
    if (method === "POST") entry.tempId = `tmp-${key}`;
    this.entries.push(entry);
    this._save();
    const answer = new Promise((resolve, reject) => this.waiters.set(key, { resolve, reject }));
    this.flush().then(() => this._settle(key, { queued: true, id: entry.tempId }));
    return answer;
  }

  /** Once: the answer to a create of `kind` in list `listId` that was sent after it had been queued. */
  takeLate(kind, listId) {
    const at = this.late.findIndex(({ entry }) => entry.kind === kind && this.real(entry.listId) === listId);
    return at < 0 ? null : this.late.splice(at, 1)[0].data;
  }

  _settle(key, value, error) {
    const waiter = this.waiters.get(key);
    if (!waiter) return;
    this.waiters.delete(key);
    if (error) waiter.reject(error);
    else waiter.resolve(value);
  }

  /** Send what waits, in order, one at a time; stop at the first that cannot go out yet. */
  flush() {
    const run = async () => {
      while (this.entries.length) {
        const entry = this.entries[0];
        let data;
        try {
          data = await this._send(entry);
        } catch (e) {
          // 409: the same Idempotency-Key is in progress (another tab of this user sends it too).
          const retry = e instanceof NetworkError || (e instanceof ApiError && [401, 409, 429].includes(e.status)) || e.status >= 500;
          if (retry) return; // still offline (or the service is busy): keep it, try again later
          this.entries.shift();
          this._save();
          if (this.waiters.has(entry.key)) this._settle(entry.key, null, e);
          else this.onFailed(entry, e);
          continue;
        }
        this.entries.shift();
        if (entry.tempId && data && data.id !== undefined) this.resolved[entry.tempId] = data.id;
        this._save();
        if (this.waiters.has(entry.key)) this._settle(entry.key, data);
        else if (entry.tempId) this.late = [...this.late, { entry, data }].slice(-KEEP_LATE);
        this.onSent(entry, data);
      }
    };
    const previous = this.flushing || Promise.resolve();
    const next = previous.then(run, run);
    this.flushing = next;
    next.finally(() => {
      if (this.flushing === next) this.flushing = null;
    });
    return next.catch(() => null);
  }

  async _send(entry) {
    const path = entry.path.replace(TEMP, (tmp) => this.resolved[tmp] || tmp);
    if (path.split("/").some(isTemp)) throw new ApiError(404, { detail: "What it changes was never created." });
    try {
      return await api(entry.method, path, { body: entry.body, headers: { "Idempotency-Key": entry.key } });
    } catch (e) {
      // A delete that already happened (an earlier attempt whose answer was lost) is done.
      if (entry.method === "DELETE" && e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }

  /**
   * The objects of `kind` as the service has them (of list `listId`, when given), with the
   * waiting writes applied on top: creates added (marked `pending`), changes merged, deletes
   * left out. `idKey` names the objects' id field.
   */
  overlay(kind, items, { listId, idKey = "id" } = {}) {
    const same = (a, b) => a === b || this.real(a) === this.real(b);
    let out = items.map((item) => ({ ...item }));
    for (const entry of this.entries) {
      if (entry.kind !== kind) continue;
      if (listId !== undefined && entry.listId !== undefined && !same(entry.listId, listId)) continue;
      if (entry.method === "POST") {
        out.push({ ...DRAFTS[kind](entry.body || {}, entry), [idKey]: entry.tempId, pending: true });
        continue;
      }
      let hit;
      if (entry.id !== undefined) hit = (item) => same(item[idKey], entry.id);
      else if (entry.where) hit = (item) => Object.entries(entry.where).every(([field, value]) => item[field] === value);
      else continue;
      if (entry.method === "DELETE") out = out.filter((item) => !hit(item));
      else out = out.map((item) => (hit(item) ? { ...item, ...entry.body, pending: true } : item));
    }
    return out;
  }
}
