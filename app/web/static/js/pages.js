// The account's pages: profile, password and sessions; personal tokens; exports and imports.

import { useEffect, useState } from "../vendor/hooks.module.js";
import { api, ApiError } from "./api.js";
import { formatTime, fromLocalInput, zones } from "./time.js";
import { Field, FormError, html, message, Unavailable, useFocusHeading, useForm } from "./ui.js";

const SCOPES = ["profile:read", "lists:read", "lists:write", "todos:read", "todos:write", "webhooks:read", "webhooks:write", "changes:read", "exports"];

/** GET a page of `path`; `missing` when the service has no such endpoint yet (404). */
function usePage(path, deps = []) {
  const [state, setState] = useState({ items: null, missing: false, error: "" });
  const reload = () =>
    api("GET", path)
      .then((p) => setState({ items: p.items, missing: false, error: "" }))
      .catch((e) => setState({ items: [], missing: e instanceof ApiError && e.status === 404, error: message(e) }));
  useEffect(() => {
    reload();
  }, deps);
  return [state, reload];
}

export function Account({ user, zone, features, onUser, onSignedOut }) {
  const heading = useFocusHeading([]);
  const [name, setName] = useState(user.display_name || "");
  const [tz, setTz] = useState(user.timezone || zone);
  const [saved, setSaved] = useState("");
  const profile = useForm(["display_name", "timezone"]);
  const hasZone = "timezone" in user;
  const save = (e) => {
    e.preventDefault();
    profile.run(async () => {
      const body = { display_name: name || null };
      if (hasZone) body.timezone = tz;
      onUser(await api("PATCH", "/users/me", { body }));
      setSaved("Profile saved.");
    });
  };
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [pwSaved, setPwSaved] = useState("");
  const password = useForm(["current_password", "new_password"]);
  const changePassword = (e) => {
    e.preventDefault();
    password.run(async () => {
      await api("PUT", "/users/me/password", { body: { current_password: current, new_password: next } });
      setCurrent("");
      setNext("");
      setPwSaved("Password changed. Your other sessions were signed out.");
    });
  };
  const [verify, setVerify] = useState("");
  const resend = () =>
    api("POST", "/auth/verify-email/resend")
      .then(() => setVerify("A new verification mail is on its way."))
      .catch((e) => setVerify(e instanceof ApiError && e.status === 404 ? "Email verification is not available on this service yet." : message(e)));
  const [sessions, reloadSessions] = usePage("/auth/sessions?limit=50");
  const endSession = (s) => api("DELETE", `/auth/sessions/${s.id}`).then(reloadSessions).catch(() => {});
  const endAll = () => api("POST", "/auth/logout-all").then(onSignedOut).catch(() => {});
  return html`<div class="page">
    <h1 tabindex="-1" ref=${heading}>Account</h1>
    <section class="panel" aria-labelledby="profile-h">
      <h2 id="profile-h">Profile</h2>
      <p>${user.email} ${"email_verified" in user ? (user.email_verified ? html`<span class="badge">verified</span>` : html`<span class="badge">not verified</span> <button type="button" onClick=${resend}>Send the verification mail again</button>`) : ""}</p>
      ${verify && html`<p role="status">${verify}</p>`}
      <form onSubmit=${save} novalidate>
        <${Field} label="Name" value=${name} onInput=${setName} error=${profile.errors.display_name} />
        ${hasZone
          ? html`<${Field} label="Time zone" type="select" value=${tz} onInput=${setTz} error=${profile.errors.timezone}>
              ${zones().map((z) => html`<option value=${z}>${z}</option>`)}
            <//>`
          : html`<p class="muted">Times are shown in your browser's time zone, ${zone}.</p>`}
        <${FormError} text=${profile.formError} />
        <button type="submit" class="primary" disabled=${profile.busy}>Save profile</button> <span role="status">${saved}</span>
      </form>
    </section>
    <section class="panel" aria-labelledby="pw-h">
      <h2 id="pw-h">Password</h2>
      <form onSubmit=${changePassword} novalidate>
        <${Field} label="Current password" type="password" autocomplete="current-password" value=${current} onInput=${setCurrent} error=${password.errors.current_password} />
        <${Field} label="New password" type="password" autocomplete="new-password" value=${next} onInput=${setNext} error=${password.errors.new_password} />
        <${FormError} text=${password.formError} />
        <button type="submit" disabled=${password.busy}>Change password</button> <span role="status">${pwSaved}</span>
      </form>
    </section>
    <section class="panel" aria-labelledby="sessions-h">
      <h2 id="sessions-h">Signed-in sessions</h2>
      <ul>
        ${(sessions.items || []).map(
          (s) => html`<li key=${s.id}><span>${s.user_agent || "unknown client"} · last used ${formatTime(s.last_used_at || s.created_at, zone)}${s.current ? " (this one)" : ""}</span>
            ${!s.current && html`<button type="button" onClick=${() => endSession(s)}>Sign out this session</button>`}</li>`,
        )}
      </ul>
      <button type="button" class="danger" onClick=${endAll}>Sign out everywhere</button>
    </section>
  </div>`;
}

export function Tokens({ zone }) {
  const heading = useFocusHeading([]);
  const [state, reload] = usePage("/auth/tokens?limit=200");
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState(["todos:read"]);
  const [expires, setExpires] = useState("");
  const [created, setCreated] = useState(null);
  const form = useForm(["name", "scopes", "expires_at"]);
  const create = (e) => {
    e.preventDefault();
    form.run(async () => {
      const body = { name, scopes };
      if (expires) body.expires_at = fromLocalInput(expires, zone);
      setCreated(await api("POST", "/auth/tokens", { body }));
      setName("");
      await reload();
    });
  };
  const revoke = (t) => form.run(async () => { await api("DELETE", `/auth/tokens/${t.id}`); await reload(); });
  const toggle = (scope) => (on) => setScopes(on ? [...scopes, scope] : scopes.filter((s) => s !== scope));
  return html`<div class="page">
    <h1 tabindex="-1" ref=${heading}>Personal access tokens</h1>
    ${state.missing
      ? html`<${Unavailable} what="Personal access tokens" />`
      : html`
        <p class="muted">Tokens let scripts use the API as you, within the scopes you choose: <code>Authorization: Bearer tdp_…</code></p>
        ${created && html`<div class="notice" role="status"><p>Copy the token “${created.name}” now; it is not shown again:</p>
          <input class="secret" readonly value=${created.token} aria-label="New token" onFocus=${(e) => e.target.select()} /></div>`}
        <ul>
          ${(state.items || []).map((t) => html`<li key=${t.id}><span><strong>${t.name}</strong> · ${t.scopes.join(", ")} · expires ${formatTime(t.expires_at, zone)} · last used ${t.last_used_at ? formatTime(t.last_used_at, zone) : "never"}</span>
            <button type="button" class="danger" onClick=${() => revoke(t)} aria-label=${`Revoke ${t.name}`}>Revoke</button></li>`)}
        </ul>
        <form onSubmit=${create} novalidate aria-label="Create a token">
          <${Field} label="Token name" value=${name} onInput=${setName} error=${form.errors.name} />
          <fieldset><legend>Scopes</legend>
            ${SCOPES.map((s) => html`<${Field} label=${s} type="checkbox" value=${scopes.includes(s)} onInput=${toggle(s)} />`)}
            ${form.errors.scopes && html`<p class="field-error">${form.errors.scopes}</p>`}
          </fieldset>
          <${Field} label=${`Expires (${zone}, optional; default 90 days)`} type="datetime-local" value=${expires} onInput=${setExpires} error=${form.errors.expires_at} />
          <${FormError} text=${form.formError} />
          <button type="submit" class="primary" disabled=${form.busy}>Create token</button>
        </form>`}
  </div>`;
}

/** Follow a job's URL until it is done or failed. */
function useJobs(kind) {
  const [state, reload] = usePage(`/${kind}?limit=20`);
  useEffect(() => {
    const running = (state.items || []).some((j) => j.status === "queued" || j.status === "running");
    if (!running) return;
    const t = setTimeout(reload, 1500);
    return () => clearTimeout(t);
  }, [state]);
  return [state, reload];
}

export function Data({ lists, zone }) {
  const heading = useFocusHeading([]);
  const [exportsState, reloadExports] = useJobs("exports");
  const [importsState, reloadImports] = useJobs("imports");
  const [format, setFormat] = useState("json");
  const [listId, setListId] = useState("");
  const [file, setFile] = useState(null);
  const exp = useForm(["format", "list_id"]);
  const imp = useForm(["file"]);
  const startExport = (e) => {
    e.preventDefault();
    exp.run(async () => {
      const body = { format };
      if (listId) body.list_id = Number(listId);
      await api("POST", "/exports", { body });
      await reloadExports();
    });
  };
  const startImport = (e) => {
    e.preventDefault();
    imp.run(async () => {
      if (!file) throw new ApiError(422, { detail: "Choose a file to import.", errors: { file: ["Choose a file."] } });
      const form = new FormData();
      form.append("file", file);
      await api("POST", "/imports", { form });
      await reloadImports();
    });
  };
  const job = (j, download) => html`<li key=${j.id}><span>#${j.id} · ${j.status}${j.status === "running" ? ` ${j.progress}%` : ""} · ${formatTime(j.created_at, zone)}${j.error ? ` · ${j.error}` : ""}${j.result && !download ? ` · ${JSON.stringify(j.result)}` : ""}</span>
    ${download && j.status === "done" && html`<a href=${`/api/v1/exports/${j.id}/download`} download>Download</a>`}</li>`;
  return html`<div class="page">
    <h1 tabindex="-1" ref=${heading}>Export and import</h1>
    <section class="panel" aria-labelledby="exp-h">
      <h2 id="exp-h">Exports</h2>
      ${exportsState.missing
        ? html`<${Unavailable} what="Exporting" />`
        : html`<form onSubmit=${startExport} novalidate class="inline-form" aria-label="Start an export">
            <${Field} label="Format" type="select" value=${format} onInput=${setFormat} error=${exp.errors.format}><option value="json">JSON</option><option value="csv">CSV</option><//>
            <${Field} label="List" type="select" value=${listId} onInput=${setListId} error=${exp.errors.list_id}>
              <option value="">Every list</option>${lists.map((l) => html`<option value=${l.id}>${l.name}</option>`)}
            <//>
            <button type="submit" disabled=${exp.busy}>Export</button>
          </form>
          <${FormError} text=${exp.formError} />
          <ul>${(exportsState.items || []).map((j) => job(j, true))}</ul>`}
    </section>
    <section class="panel" aria-labelledby="imp-h">
      <h2 id="imp-h">Imports</h2>
      ${importsState.missing
        ? html`<${Unavailable} what="Importing" />`
        : html`<form onSubmit=${startImport} novalidate class="inline-form" aria-label="Start an import">
            <div class="field"><label for="import-file">File (our JSON export, a Todoist CSV, or a Todo-Backend JSON array)</label>
              <input id="import-file" type="file" accept=".json,.csv,application/json,text/csv" onChange=${(e) => setFile(e.target.files[0] || null)} aria-describedby=${imp.errors.file ? "import-file-error" : undefined} />
              ${imp.errors.file && html`<p class="field-error" id="import-file-error">${imp.errors.file}</p>`}</div>
            <button type="submit" disabled=${imp.busy}>Import</button>
          </form>
          <${FormError} text=${imp.formError} />
          <ul>${(importsState.items || []).map((j) => job(j, false))}</ul>`}
    </section>
  </div>`;
}
