// The web app: routes, the signed-in user, their lists, the outbox and live updates.

import { render } from "../vendor/preact.module.js";
import { useEffect, useRef, useState } from "../vendor/hooks.module.js";
import { api, ApiError, detectFeatures, setSignedOutHandler } from "./api.js";
import { Forgot, Invited, ResetPassword, SignIn, SignUp, TokenLink } from "./auth.js";
import { ListNav, ListView, NewListForm } from "./lists.js";
import { Live } from "./live.js";
import { Outbox } from "./outbox.js";
import { Account, Data, Tokens } from "./pages.js";
import { browserZone } from "./time.js";
import { html, message } from "./ui.js";

/** The route: mail links are paths (/reset-password?token=...), in-app pages are hashes (#/lists/3). */
function readRoute() {
  const token = new URLSearchParams(location.search).get("token") || "";
  const path = location.pathname.replace(/\/+$/, "");
  if (path && path !== "") return { page: path.slice(1), token };
  const hash = location.hash.replace(/^#\/?/, "");
  const [page, id] = hash.split("/");
  // A list made offline has a temporary id until the service has it.
  return { page: page || "lists", id: /^\d+$/.test(id || "") ? Number(id) : id || null, token };
}

function useRoute() {
  const [route, setRoute] = useState(readRoute());
  useEffect(() => {
    const update = () => setRoute(readRoute());
    window.addEventListener("hashchange", update);
    window.addEventListener("popstate", update);
    return () => {
      window.removeEventListener("hashchange", update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return route;
}

function useOnline() {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const on = () => setOnline(true);
    const off = () => setOnline(false);
    window.addEventListener("online", on);
    window.addEventListener("offline", off);
    return () => {
      window.removeEventListener("online", on);
      window.removeEventListener("offline", off);
    };
  }, []);
  return online;
}

const MAIL_PAGES = {
  "verify-email": { title: "Verify your email", path: "/auth/verify-email", done: "Your email address is verified. Thank you." },
  "confirm-email-change": { title: "Confirm your new email", path: "/auth/confirm-email-change", done: "Your email address was changed." },
  "accept-invitation": { title: "Join a list", path: "/invitations/accept", done: "You joined the list.", needsLogin: true },
};

function App() {
  const route = useRoute();
  const online = useOnline();
  const [user, setUser] = useState(undefined); // undefined: not known yet; null: signed out
  const [features, setFeatures] = useState({});
  const [lists, setLists] = useState([]);
  const [tick, setTick] = useState(0);
  const [liveMode, setLiveMode] = useState("");
  const [toasts, setToasts] = useState([]);
  const [outboxVersion, setOutboxVersion] = useState(0);
  const outbox = useRef(null);
  const zone = (user && user.timezone) || browserZone();

  const toast = (text) => {
    const id = Math.random();
    setToasts((t) => [...t, { id, text }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), 8000);
  };
  const loadLists = () =>
    api("GET", "/lists?limit=200")
      .then((p) => setLists(p.items))
      .catch(() => {});
  const loadUser = () =>
    api("GET", "/users/me")
      .then(setUser)
      .catch((e) => {
        if (e instanceof ApiError && e.status === 401) setUser(null);
        else setUser((u) => (u === undefined ? null : u));
      });

  useEffect(() => {
    setSignedOutHandler(() => setUser(null));
    detectFeatures().then(setFeatures);
    loadUser();
  }, []);

  // Signed in: the lists, the outbox of this user's waiting writes, and the live updates.
  useEffect(() => {
    if (!user) return;
    loadLists();
    const box = new Outbox(user.id, {
      onChange: () => setOutboxVersion((v) => v + 1),
      onSent: (entry, data) => {
        // The list made offline that is on screen now has its real id: the address follows.
        if (entry.kind === "list" && entry.tempId && data && location.hash === `#/lists/${entry.tempId}`) location.replace(`#/lists/${data.id}`);
        setTick((t) => t + 1);
        loadLists();
      },
      onFailed: (entry, e) => toast(`A change could not be saved: ${message(e)}`),
    });
    outbox.current = box;
    setOutboxVersion((v) => v + 1);
    box.flush();
    let timer = null;
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        setTick((t) => t + 1);
        loadLists();
      }, 150);
    };
    const live = new Live({
      onChange: soon,
      onReload: async () => soon(),
      onReminder: (item) => toast(`Reminder: ${(item.data && item.data.title) || "a todo is due"}`),
      onMode: setLiveMode,
    });
    live.start();
    return () => {
      live.stop();
      box.close();
      clearTimeout(timer);
    };
  }, [user && user.id]);

  const signOut = async () => {
    try {
      await api("POST", "/auth/logout", { noRefresh: false });
    } catch (e) {
      // Already signed out elsewhere: the cookies are cleared either way.
    }
    setUser(null);
    setLists([]);
    location.hash = "#/signin";
  };

  // Signed in on a sign-in page: on to the lists.
  useEffect(() => {
    if (user && ["signin", "signup", "forgot"].includes(route.page)) location.replace("#/lists");
  }, [user, route.page]);

  if (user === undefined) return html`<p class="boot" role="status">Loading Todos…</p>`;

  const mail = MAIL_PAGES[route.page];
  if (route.page === "reset-password") return html`<${Shell}><${ResetPassword} token=${route.token} /><//>`;
  if (mail && (!mail.needsLogin || user)) return html`<${Shell} user=${user}><${TokenLink} ...${mail} token=${route.token} onDone=${loadLists} /><//>`;
  // An invitation opened signed out: an account is made with it (or the person signs in), then it is accepted.
  if (mail) return html`<${Shell}><${Invited} token=${route.token} onSignedIn=${loadUser} features=${features} /><//>`;

  if (!user) {
    const page = route.page === "signup" ? html`<${SignUp} onSignedIn=${loadUser} />` : route.page === "forgot" ? html`<${Forgot} />` : html`<${SignIn} onSignedIn=${loadUser} features=${features} />`;
    return html`<${Shell}>${page}<//>`;
  }

  let main;
  const box = outbox.current;
  const shownLists = box ? box.overlay("list", lists) : lists;
  const current = shownLists.find((l) => l.id === route.id || (box && l.id === box.real(route.id)));
  if (route.page === "tokens") main = html`<${Tokens} zone=${zone} />`;
  else if (route.page === "data") main = html`<${Data} lists=${lists} zone=${zone} />`;
  else if (route.page === "account") main = html`<${Account} user=${user} zone=${zone} features=${features} onUser=${setUser} onSignedOut=${() => { setUser(null); location.hash = "#/signin"; }} />`;
  else if (current && box)
    main = html`<${ListView} key=${current.id} list=${current} lists=${shownLists} user=${user} zone=${zone} features=${features} outbox=${box} outboxVersion=${outboxVersion} tick=${tick}
      onListChanged=${(l) => { setLists(lists.map((x) => (x.id === l.id ? { ...x, ...l } : x))); loadLists(); }}
      onListDeleted=${(l) => { setLists(lists.filter((x) => x.id !== l.id)); location.hash = "#/lists"; }} />`;
  else main = html`<div class="page"><h1>Your lists</h1><p>${shownLists.length ? "Choose a list, or create one." : "Create your first list to start."}</p></div>`;

  const pending = box ? box.pending : 0;
  return html`<${Shell} user=${user} onSignOut=${signOut} status=${html`
      <span class=${online ? "online" : "offline"}>${online ? "Online" : "Offline"}</span>
      ${pending ? html` · <span>${pending} change${pending > 1 ? "s" : ""} waiting to be sent</span>` : ""}
      ${liveMode ? html` · <span>live: ${liveMode}</span>` : ""}`}>
    <div class="layout">
      <aside class="sidebar">
        <${ListNav} lists=${shownLists} currentId=${current ? current.id : route.id} />
        ${box && html`<${NewListForm} outbox=${box} onCreated=${(id) => { loadLists(); location.hash = `#/lists/${id}`; }} />`}
      </aside>
      <div class="content">${main}</div>
    </div>
    <div class="toasts" role="status" aria-live="polite">${toasts.map((t) => html`<p key=${t.id} class="toast">${t.text}</p>`)}</div>
  <//>`;
}

function Shell({ user, onSignOut, status, children }) {
  return html`<a class="skip" href="#main">Skip to content</a>
    <header class="topbar">
      <a class="brand" href="/#/">Todos</a>
      ${user &&
      html`<nav aria-label="Account">
        <a href="/#/lists">Lists</a>
        <a href="/#/tokens">Tokens</a>
        <a href="/#/data">Export / import</a>
        <a href="/#/account">${user.display_name || user.email}</a>
        <button type="button" onClick=${onSignOut}>Sign out</button>
      </nav>`}
    </header>
    ${status && html`<p class="statusbar" role="status" aria-live="polite">${status}</p>`}
    <main id="main" tabindex="-1">${children}</main>`;
}

render(html`<${App} />`, document.getElementById("app"));
