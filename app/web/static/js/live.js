// Changes made elsewhere (another tab, another member, a script) reach the page without a reload:
// through the live stream (/events) when the service has it, else by polling the change feed
// (/changes), else by re-reading what the page shows every few seconds.

import { api, ApiError, BASE, refresh } from "./api.js";

const POLL_MS = 3000;

export class Live {
  /**
   * onChange(item): a change feed item ({kind, op, id, list_id, data}); onReminder(item);
   * onReload(): the page must re-read everything (feed cursor gone, or no feed at all: every POLL_MS).
   * onMode(mode): "events" | "changes" | "polling", for the status line.
   */
  constructor({ onChange, onReminder = () => {}, onReload, onMode = () => {} }) {
    Object.assign(this, { onChange, onReminder, onReload, onMode });
    this.cursor = null;
    this.source = null;
    this.timer = null;
    this.closed = false;
    this.failures = 0;
  }

  async start() {
    try {
      const head = await api("GET", "/changes");
      this.cursor = head.next_cursor;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return this._poll("polling");
      this.timer = setTimeout(() => this.start(), POLL_MS); // offline or busy: try again
      return;
    }
    if (typeof EventSource === "function") this._stream();
    else this._poll("changes");
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.timer);
    if (this.source) this.source.close();
  }

  _stream() {
    if (this.closed) return;
    let opened = false;
    const url = `${BASE}/events?since=${encodeURIComponent(this.cursor)}`;
    const source = new EventSource(url, { withCredentials: true });
    this.source = source;
    source.onopen = () => {
      opened = true;
      this.failures = 0;
      this.onMode("events");
    };
    source.addEventListener("change", (event) => {
      const item = JSON.parse(event.data);
      this.cursor = event.lastEventId || item.cursor || this.cursor;
      this.onChange(item);
    });
    source.addEventListener("reminder", (event) => this.onReminder(JSON.parse(event.data)));
    source.onerror = async () => {
      if (source.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
      source.close();
      this.failures += 1;
      // Closed: the access token expired or the stream is not there. Refresh, then try again a
      // few times; a service without a working stream is followed through the feed instead.
      if (this.failures > 3 || (!opened && this.failures > 2)) return this._poll("changes");
      await refresh();
      this.timer = setTimeout(() => this._stream(), 500 * this.failures);
    };
  }

  _poll(mode) {
    if (this.closed) return;
    this.onMode(mode);
    const tick = async () => {
      if (this.closed) return;
      if (mode === "polling") {
        await this.onReload();
      } else {
        try {
          let page;
          do {
            page = await api("GET", `/changes?since=${encodeURIComponent(this.cursor)}`);
            for (const item of page.items) this.onChange(item);
            this.cursor = page.next_cursor;
          } while (page.items.length);
        } catch (e) {
          if (e instanceof ApiError && e.status === 410) {
            const head = await api("GET", "/changes").catch(() => null);
            if (head) this.cursor = head.next_cursor;
            await this.onReload();
          }
        }
      }
      if (!this.closed) this.timer = setTimeout(tick, POLL_MS);
    };
    this.timer = setTimeout(tick, POLL_MS);
  }
}
