// Lists and their todos: add, edit, complete, delete, filter, search, page as you scroll;
// members, share links and invitations of a list.

import { useCallback, useEffect, useRef, useState } from "../vendor/hooks.module.js";
import { api, ApiError, query } from "./api.js";
import { isTemp } from "./outbox.js";
import { formatTime, fromLocalInput, toLocalInput } from "./time.js";
import { Field, FormError, html, message, Unavailable, useDebounced, useFocusHeading, useForm } from "./ui.js";

const PAGE = 50;
const PRIORITIES = ["none", "low", "medium", "high"];
const canWrite = (list) => list && (list.role === "owner" || list.role === "editor");
const splitTags = (text) => text.split(/[\s,]+/).map((t) => t.trim()).filter(Boolean);

export function NewListForm({ outbox, onCreated }) {
  const [name, setName] = useState("");
  const form = useForm(["name"]);
  const submit = (e) => {
    e.preventDefault();
    setName(""); // at once: the next name can be typed while this list is sent
    form.run(async () => {
      try {
        onCreated((await outbox.submit({ kind: "list", method: "POST", path: "/lists", body: { name } })).id);
      } catch (err) {
        setName(name); // refused: the name comes back, with the problem next to it
        throw err;
      }
    });
  };
  return html`<form class="new-list" onSubmit=${submit} novalidate>
    <${Field} label="New list" value=${name} onInput=${setName} error=${form.errors.name} placeholder="Groceries" />
    <${FormError} text=${form.formError} />
    <button type="submit" disabled=${form.busy}>Create list</button>
  </form>`;
}

export function ListNav({ lists, currentId }) {
  return html`<nav aria-label="Your lists" class="list-nav">
    <h2>Lists</h2>
    ${lists.length === 0 && html`<p class="muted">No lists yet.</p>`}
    <ul>
      ${lists.map(
        (l) => html`<li key=${l.id}>
          <a href=${`#/lists/${l.id}`} aria-current=${l.id === currentId ? "page" : undefined}>
            <span class="list-name">${l.name}${l.pending && html`<span class="badge waiting">waiting to be sent</span>`}</span>
            <span class="count" aria-label=${`${l.completed_count} of ${l.todo_count} done`}>${l.completed_count}/${l.todo_count}</span>
          </a>
        </li>`,
      )}
    </ul>
  </nav>`;
}

/** The filters of the todo list, as the query string of GET /lists/<id>/todos. */
function Filters({ filters, setFilters, tags }) {
  const set = (key) => (value) => setFilters({ ...filters, [key]: value });
  return html`<form class="filters" role="search" aria-label="Filter todos" onSubmit=${(e) => e.preventDefault()}>
    <${Field} label="Search" type="search" value=${filters.q} onInput=${set("q")} placeholder="Title or notes" />
    <${Field} label="Show" type="select" value=${filters.completed} onInput=${set("completed")}>
      <option value="">All</option><option value="false">Open</option><option value="true">Completed</option>
    <//>
    <${Field} label="Min. priority" type="select" value=${filters.min_priority} onInput=${set("min_priority")}>
      <option value="">Any</option>${[1, 2, 3].map((p) => html`<option value=${p}>${PRIORITIES[p]}</option>`)}
    <//>
    <${Field} label="Tag" type="select" value=${filters.tag} onInput=${set("tag")}>
      <option value="">Any</option>${tags.map((t) => html`<option value=${t.name}>${t.name} (${t.count})</option>`)}
    <//>
    <${Field} label="Sort" type="select" value=${filters.sort} onInput=${set("sort")}>
      <option value="order">Manual order</option><option value="due_at">Due date</option>
      <option value="-priority">Priority</option><option value="-created_at">Newest</option><option value="title">Title</option>
    <//>
    <${Field} label="Overdue only" type="checkbox" value=${filters.overdue} onInput=${set("overdue")} />
  </form>`;
}

/** Fields of a todo form: the same for adding and editing. */
function TodoFields({ values, set, errors, zone, features, members, more, lists }) {
  return html`
    <${Field} label="Title" value=${values.title} onInput=${set("title")} error=${errors.title} required maxlength="500" />
    ${more &&
    html`<div class="grid">
      <${Field} label=${`Due (${zone})`} type="datetime-local" value=${values.due} onInput=${set("due")} error=${errors.due_at} />
      <${Field} label="Priority" type="select" value=${String(values.priority)} onInput=${set("priority")} error=${errors.priority}>
        ${PRIORITIES.map((p, i) => html`<option value=${i}>${p}</option>`)}
      <//>
      <${Field} label="Tags" value=${values.tags} onInput=${set("tags")} error=${errors.tags} hint="Separated by spaces or commas." />
      ${lists &&
      html`<${Field} label="List" type="select" value=${String(values.list_id)} onInput=${set("list_id")} error=${errors.list_id}>
        ${lists.filter((l) => canWrite(l) && !isTemp(l.id)).map((l) => html`<option value=${l.id}>${l.name}</option>`)}
      <//>`}
      <${Field} label="Assignee" type="select" value=${String(values.assignee_id || "")} onInput=${set("assignee_id")} error=${errors.assignee_id}>
        <option value="">Nobody</option>
        ${members.map((m) => html`<option value=${m.user_id}>${m.display_name || m.email}</option>`)}
      <//>
      ${features.recurrence &&
      html`<${Field} label="Repeats (RRULE)" value=${values.recurrence} onInput=${set("recurrence")} error=${errors.recurrence} hint="For example FREQ=WEEKLY;BYDAY=MO,WE. Needs a due date." list="rrules" />
        <datalist id="rrules"><option value="FREQ=DAILY"></option><option value="FREQ=WEEKLY"></option><option value="FREQ=MONTHLY"></option><option value="FREQ=YEARLY"></option></datalist>
        <${Field} label="Reminders (minutes before due)" value=${values.reminders} onInput=${set("reminders")} error=${errors.reminders} hint="For example 0, 30." />`}
    </div>
    <${Field} label="Notes" type="textarea" value=${values.notes} onInput=${set("notes")} error=${errors.notes} />`}
  `;
}

function valuesOf(todo, zone) {
  return {
    title: todo ? todo.title : "",
    notes: (todo && todo.notes) || "",
    due: todo ? toLocalInput(todo.due_at, zone) : "",
    priority: todo ? todo.priority || 0 : 0,
    tags: todo ? (todo.tags || []).join(" ") : "",
    assignee_id: (todo && todo.assignee_id) || "",
    recurrence: (todo && todo.recurrence) || "",
    reminders: todo && todo.reminders ? todo.reminders.join(", ") : "",
    list_id: todo ? todo.list_id : "",
  };
}

/** The body of a POST or PATCH from the form's values; `before` (editing) keeps only what changed. */
function bodyOf(values, zone, features, before) {
  const body = {
    title: values.title,
    notes: values.notes || null,
    due_at: fromLocalInput(values.due, zone),
    priority: Number(values.priority),
    tags: splitTags(values.tags),
    assignee_id: values.assignee_id ? Number(values.assignee_id) : null,
  };
  if (features.recurrence) {
    body.recurrence = values.recurrence.trim() || null;
    body.reminders = values.reminders.trim() ? values.reminders.split(/[\s,]+/).filter(Boolean).map(Number) : [];
  }
  if (!before) {
    for (const key of Object.keys(body)) if (body[key] === null || (Array.isArray(body[key]) && !body[key].length)) delete body[key];
    if (!body.priority) delete body.priority;
    return body;
  }
  const old = bodyOf(valuesOf(before, zone), zone, features, null);
  const changed = {};
  if (values.list_id && Number(values.list_id) !== before.list_id) changed.list_id = Number(values.list_id);
  for (const [key, value] of Object.entries(body)) {
    const was = key in old ? old[key] : key === "tags" || key === "reminders" ? [] : key === "priority" ? 0 : null;
    if (JSON.stringify(value) !== JSON.stringify(was)) changed[key] = value;
  }
  return changed;
}

const TODO_FIELDS = ["list_id", "title", "notes", "due_at", "priority", "tags", "assignee_id", "recurrence", "reminders", "order"];

function AddTodo({ list, outbox, zone, features, members }) {
  const [values, setValues] = useState(valuesOf(null, zone));
  const [more, setMore] = useState(false);
  const [status, setStatus] = useState("");
  const form = useForm(TODO_FIELDS);
  const set = (key) => (value) => setValues({ ...values, [key]: value });
  const submit = (e) => {
    e.preventDefault();
    const submitted = values;
    const body = bodyOf(values, zone, features, null);
    setValues(valuesOf(null, zone)); // at once: the next todo can be typed while this one is sent
    form.run(async () => {
      let answer;
      try {
        answer = await outbox.submit({ kind: "todo", method: "POST", path: `/lists/${list.id}/todos`, body, listId: list.id });
      } catch (err) {
        setValues(submitted); // refused: the text comes back, with the problem next to its field
        throw err;
      }
      setStatus(answer && answer.queued ? `Saved offline: “${body.title}” will be sent when you are back online.` : `Added “${body.title}”.`);
    });
  };
  return html`<form class="add-todo" onSubmit=${submit} novalidate aria-label="Add a todo">
    <${TodoFields} values=${values} set=${set} errors=${form.errors} zone=${zone} features=${features} members=${members} more=${more} />
    <${FormError} text=${form.formError} />
    <div class="row">
      <button type="submit" class="primary" disabled=${form.busy}>Add todo</button>
      <button type="button" aria-expanded=${more} onClick=${() => setMore(!more)}>${more ? "Fewer details" : "More details"}</button>
      <span class="muted" role="status">${status}</span>
    </div>
  </form>`;
}

function TodoItem({ todo, list, lists, outbox, zone, features, members, onTag }) {
  const [editing, setEditing] = useState(false);
  const [values, setValues] = useState(null);
  const form = useForm(TODO_FIELDS);
  const writable = canWrite(list);
  const set = (key) => (value) => setValues({ ...values, [key]: value });
  const write = (method, body) => outbox.submit({ kind: "todo", method, path: `/todos/${todo.id}`, body, id: todo.id, listId: list.id });
  const toggle = () => write("PATCH", { completed: !todo.completed }).catch(() => {});
  const remove = () => write("DELETE").catch(() => {});
  const edit = () => {
    setValues(valuesOf(todo, zone));
    setEditing(true);
  };
  const save = (e) => {
    e.preventDefault();
    form.run(async () => {
      const body = bodyOf(values, zone, features, todo);
      if (Object.keys(body).length) await write("PATCH", body);
      setEditing(false);
    });
  };
  const overdue = todo.due_at && !todo.completed && new Date(todo.due_at) < new Date();
  const assignee = members.find((m) => m.user_id === todo.assignee_id);
  const checkId = `done-${todo.id}`;
  if (editing) {
    return html`<li class="todo editing">
      <form onSubmit=${save} novalidate aria-label=${`Edit “${todo.title}”`}>
        <${TodoFields} values=${values} set=${set} errors=${form.errors} zone=${zone} features=${features} members=${members} more=${true} lists=${lists} />
        <${FormError} text=${form.formError} />
        <div class="row">
          <button type="submit" class="primary" disabled=${form.busy}>Save</button>
          <button type="button" onClick=${() => setEditing(false)}>Cancel</button>
        </div>
      </form>
    </li>`;
  }
  return html`<li class=${`todo${todo.completed ? " done" : ""}${todo.pending ? " pending" : ""}`} data-todo-id=${todo.id}>
    <input type="checkbox" id=${checkId} checked=${todo.completed} disabled=${!writable} onChange=${toggle} />
    <div class="todo-body">
      <label for=${checkId} class="todo-title">${todo.title}</label>
      <div class="meta">
        ${todo.due_at && html`<span class=${overdue ? "due overdue" : "due"}>${overdue ? "Overdue: " : "Due "}<time datetime=${todo.due_at}>${formatTime(todo.due_at, zone)}</time></span>`}
        ${todo.priority ? html`<span class=${`prio p${todo.priority}`}>${PRIORITIES[todo.priority]} priority</span>` : ""}
        ${todo.recurrence && html`<span class="badge">repeats ${todo.recurrence}</span>`}
        ${todo.reminders && todo.reminders.length ? html`<span class="badge">reminders ${todo.reminders.join(", ")} min before</span>` : ""}
        ${assignee && html`<span>for ${assignee.display_name || assignee.email}</span>`}
        ${(todo.tags || []).map((t) => html`<button type="button" class="tag" onClick=${() => onTag(t)} aria-label=${`Show todos tagged ${t}`}>#${t}</button>`)}
        ${todo.pending && html`<span class="badge waiting">waiting to be sent</span>`}
      </div>
      ${todo.notes && html`<p class="notes">${todo.notes}</p>`}
    </div>
    ${writable &&
    html`<div class="actions">
      <button type="button" onClick=${edit} aria-label=${`Edit “${todo.title}”`}>Edit</button>
      <button type="button" class="danger" onClick=${remove} aria-label=${`Delete “${todo.title}”`}>Delete</button>
    </div>`}
  </li>`;
}

function ListHeader({ list, outbox, onChanged, onDeleted, user }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(list.name);
  const [description, setDescription] = useState(list.description || "");
  const form = useForm(["name", "description"]);
  const heading = useFocusHeading([list.id]);
  // Leaving is a write to the list as this page shows it: the list goes away.
  const write = (method, path, body) => outbox.submit({ kind: "list", method, path, body, id: list.id });
  const save = (e) => {
    e.preventDefault();
    form.run(async () => {
      const body = { name, description: description || null };
      const answer = await write("PATCH", `/lists/${list.id}`, body);
      onChanged(answer.queued ? { id: list.id } : answer);
      setEditing(false);
    });
  };
  const destroy = () =>
    form.run(async () => {
      if (!window.confirm(`Delete the list “${list.name}” and all its todos?`)) return;
      await write("DELETE", `/lists/${list.id}`);
      onDeleted(list);
    });
  const leave = () =>
    form.run(async () => {
      await write("DELETE", `/lists/${list.id}/members/${user.id}`);
      onDeleted(list);
    });
  if (editing) {
    return html`<form class="list-header" onSubmit=${save} novalidate aria-label="Rename the list">
      <${Field} label="List name" value=${name} onInput=${setName} error=${form.errors.name} />
      <${Field} label="Description" type="textarea" value=${description} onInput=${setDescription} error=${form.errors.description} />
      <${FormError} text=${form.formError} />
      <div class="row"><button type="submit" class="primary">Save</button><button type="button" onClick=${() => setEditing(false)}>Cancel</button></div>
    </form>`;
  }
  return html`<div class="list-header">
    <h1 tabindex="-1" ref=${heading}>${list.name}</h1>
    <p class="muted">You are ${list.role} · ${list.completed_count} of ${list.todo_count} done</p>
    ${list.description && html`<p>${list.description}</p>`}
    <div class="row">
      ${canWrite(list) && html`<button type="button" onClick=${() => { setName(list.name); setDescription(list.description || ""); setEditing(true); }}>Rename</button>`}
      ${list.role === "owner" ? html`<button type="button" class="danger" onClick=${destroy}>Delete list</button>` : html`<button type="button" onClick=${leave}>Leave list</button>`}
    </div>
    <${FormError} text=${form.formError} />
  </div>`;
}

/** One list: its todos (paged as the user scrolls), filters, and for owners, members and links. */
export function ListView({ list, lists, user, zone, features, outbox, outboxVersion, tick, onListChanged, onListDeleted }) {
  const [filters, setFilters] = useState({ q: "", completed: "", min_priority: "", tag: "", sort: "order", overdue: false });
  const [todos, setTodos] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [members, setMembers] = useState([]);
  const [tags, setTags] = useState([]);
  const q = useDebounced(filters.q, 250);
  const sentinel = useRef(null);
  const loaded = useRef(0);
  const params = { ...filters, q, overdue: filters.overdue ? "true" : "" };
  const key = JSON.stringify([list.id, params]);
  const made = !isTemp(list.id); // a list made offline has nothing on the service to read yet

  const load = useCallback(
    async (after, keep, quiet) => {
      if (!made) return;
      if (!quiet) setLoading(true);
      try {
        const limit = after ? PAGE : Math.min(200, Math.max(PAGE, keep || 0));
        const page = await api("GET", `/lists/${list.id}/todos${query({ ...params, limit, cursor: after })}`);
        setTodos((old) => {
          const next = after ? [...old, ...page.items.filter((t) => !old.some((o) => o.id === t.id))] : page.items;
          loaded.current = next.length;
          return next;
        });
        setCursor(page.next_cursor);
        setError("");
      } catch (e) {
        setError(message(e));
      } finally {
        setLoading(false);
      }
    },
    [key],
  );

  const loadMembers = () => made && api("GET", `/lists/${list.id}/members?limit=200`).then((p) => setMembers(p.items)).catch(() => {});
  const loadTags = () => made && api("GET", "/tags?limit=200").then((p) => setTags(p.items)).catch(() => {});

  useEffect(() => {
    load(null);
  }, [key]);
  useEffect(() => {
    loadMembers();
    loadTags();
  }, [list.id]);
  // Something changed elsewhere (live stream, feed or polling): read what is on screen again.
  useEffect(() => {
    if (tick) {
      load(null, loaded.current, true);
      loadTags();
      loadMembers();
    }
  }, [tick]);

  // Keyset paging as the user scrolls: the sentinel under the list asks for the next page.
  useEffect(() => {
    if (!sentinel.current || !cursor || typeof IntersectionObserver !== "function") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !loading) load(cursor);
    });
    observer.observe(sentinel.current);
    return () => observer.disconnect();
  }, [cursor, loading, key]);

  const [cleared, setCleared] = useState("");
  const clearCompleted = () =>
    outbox
      .submit({ kind: "todo", method: "DELETE", path: `/lists/${list.id}/todos?completed=true`, listId: list.id, where: { completed: true } })
      .then((r) => {
        if (r.queued) return setCleared("Completed todos will be deleted when you are back online.");
        setCleared(`${r.deleted} completed todo${r.deleted === 1 ? "" : "s"} deleted.`);
        load(null, loaded.current, true);
        onListChanged({ id: list.id });
      })
      .catch((e) => setCleared(message(e)));
  const shown = outbox.overlay("todo", todos, { listId: list.id });
  void outboxVersion;
  const open = shown.filter((t) => !t.completed).length;
  return html`<div class="list-view">
    <${ListHeader} list=${list} user=${user} outbox=${outbox} onChanged=${onListChanged} onDeleted=${onListDeleted} />
    ${canWrite(list) && html`<${AddTodo} list=${list} outbox=${outbox} zone=${zone} features=${features} members=${members} />`}
    <${Filters} filters=${filters} setFilters=${setFilters} tags=${tags} />
    <h2 class="sr-only">Todos</h2>
    ${canWrite(list) && html`<div class="row"><button type="button" onClick=${clearCompleted}>Clear completed</button><span role="status">${cleared}</span></div>`}
    <p class="muted" role="status" aria-live="polite">${loading ? "Loading…" : `${shown.length} shown, ${open} open${cursor ? ", more below" : ""}`}</p>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
    <ul class="todos" aria-label=${`Todos of ${list.name}`}>
      ${shown.map(
        (t) => html`<${TodoItem} key=${t.id} todo=${t} list=${list} lists=${lists} outbox=${outbox} zone=${zone} features=${features} members=${members} onTag=${(tag) => setFilters({ ...filters, tag })} />`,
      )}
    </ul>
    ${!loading && shown.length === 0 && html`<p class="empty">Nothing here yet.</p>`}
    <div ref=${sentinel} class="sentinel">
      ${cursor && html`<button type="button" onClick=${() => load(cursor)} disabled=${loading}>Load more todos</button>`}
    </div>
    <${Members} list=${list} user=${user} members=${outbox.overlay("member", members, { listId: list.id, idKey: "user_id" })} outbox=${outbox} reload=${loadMembers} />
    ${list.role === "owner" && html`<${ShareLinks} list=${list} zone=${zone} outbox=${outbox} tick=${tick} />`}
    ${list.role === "owner" && features.invitations !== false && html`<${Invitations} list=${list} zone=${zone} outbox=${outbox} tick=${tick} />`}
  </div>`;
}

function Members({ list, user, members, outbox, reload }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("editor");
  const form = useForm(["email", "role"]);
  const owner = list.role === "owner";
  const write = (method, path, body, id) =>
    form.run(async () => {
      await outbox.submit({ kind: "member", method, path: `/lists/${list.id}/members${path}`, body, listId: list.id, id });
      await reload();
      return true;
    });
  const add = (e) => {
    e.preventDefault();
    setEmail(""); // at once; refused, the address comes back with the problem next to it
    write("POST", "", { email, role }).then((done) => done || setEmail(email));
  };
  const change = (m, newRole) => write("PATCH", `/${m.user_id}`, { role: newRole }, m.user_id);
  const remove = (m) => write("DELETE", `/${m.user_id}`, undefined, m.user_id);
  return html`<section class="panel" aria-labelledby="members-h">
    <h2 id="members-h">Members</h2>
    <ul class="members">
      ${members.map(
        (m) => html`<li key=${m.user_id}>
          <span>${m.display_name || m.email}${m.display_name ? html` <span class="muted">${m.email}</span>` : ""}${m.user_id === user.id ? " (you)" : ""}${m.pending ? html` <span class="badge waiting">waiting to be sent</span>` : ""}</span>
          ${owner
            ? html`<label class="sr-only" for=${`role-${m.user_id}`}>Role of ${m.email}</label>
                <select id=${`role-${m.user_id}`} value=${m.role} onChange=${(e) => change(m, e.target.value)}>
                  <option value="owner">owner</option><option value="editor">editor</option><option value="viewer">viewer</option>
                </select>
                <button type="button" class="danger" onClick=${() => remove(m)} aria-label=${`Remove ${m.email}`}>Remove</button>`
            : html`<span class="badge">${m.role}</span>`}
        </li>`,
      )}
    </ul>
    ${owner &&
    html`<form onSubmit=${add} novalidate aria-label="Add a member" class="inline-form">
      <${Field} label="Member's email" type="email" value=${email} onInput=${setEmail} error=${form.errors.email} />
      <${Field} label="Role" type="select" value=${role} onInput=${setRole} error=${form.errors.role}>
        <option value="editor">editor</option><option value="viewer">viewer</option><option value="owner">owner</option>
      <//>
      <button type="submit" disabled=${form.busy}>Add member</button>
    </form>`}
    <${FormError} text=${form.formError} />
  </section>`;
}

function ShareLinks({ list, zone, outbox, tick }) {
  const [links, setLinks] = useState([]);
  const [role, setRole] = useState("viewer");
  const [expires, setExpires] = useState("");
  const [created, setCreated] = useState(null);
  const form = useForm(["role", "expires_at"]);
  const reload = () => !isTemp(list.id) && api("GET", `/lists/${list.id}/share-links?limit=200`).then((p) => setLinks(p.items)).catch(() => {});
  useEffect(() => { reload(); }, [list.id, tick]); // tick: a waiting write went out, or something changed elsewhere
  // A link made offline: its URL, shown only once, when the service has made it (at any render after).
  useEffect(() => {
    const late = outbox.takeLate("share-link", list.id);
    if (late) setCreated(late);
  });
  const write = (method, path, body, id) => outbox.submit({ kind: "share-link", method, path: `/lists/${list.id}/share-links${path}`, body, listId: list.id, id });
  const create = (e) => {
    e.preventDefault();
    form.run(async () => {
      const answer = await write("POST", "", { role, expires_at: fromLocalInput(expires, zone) });
      setCreated(answer.queued ? null : answer);
      await reload();
    });
  };
  const revoke = (link) => form.run(async () => { await write("DELETE", `/${link.id}`, undefined, link.id); await reload(); });
  return html`<section class="panel" aria-labelledby="links-h">
    <h2 id="links-h">Share links</h2>
    <p class="muted">Anyone with a link can use this list without an account, from any Todo-Backend client.</p>
    ${created && html`<div class="notice" role="status">
      <p>Copy this link now; it is not shown again:</p>
      <input class="secret" readonly value=${created.url} aria-label="New share link" onFocus=${(e) => e.target.select()} />
    </div>`}
    <ul class="links">
      ${outbox.overlay("share-link", links, { listId: list.id }).map((l) => html`<li key=${l.id}>
        <span>${l.role} link, created ${formatTime(l.created_at, zone)}${l.expires_at ? `, expires ${formatTime(l.expires_at, zone)}` : ", never expires"}${l.pending ? html` <span class="badge waiting">waiting to be sent</span>` : ""}</span>
        <button type="button" class="danger" onClick=${() => revoke(l)}>Revoke</button>
      </li>`)}
    </ul>
    <form onSubmit=${create} novalidate aria-label="Create a share link" class="inline-form">
      <${Field} label="Link role" type="select" value=${role} onInput=${setRole} error=${form.errors.role}>
        <option value="viewer">viewer</option><option value="editor">editor</option>
      <//>
      <${Field} label=${`Expires (${zone}, optional)`} type="datetime-local" value=${expires} onInput=${setExpires} error=${form.errors.expires_at} />
      <button type="submit" disabled=${form.busy}>Create link</button>
    </form>
    <${FormError} text=${form.formError} />
  </section>`;
}

function Invitations({ list, zone, outbox, tick }) {
  const [items, setItems] = useState(null);
  const [missing, setMissing] = useState(false);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("editor");
  const form = useForm(["email", "role"]);
  const reload = () =>
    !isTemp(list.id) &&
    api("GET", `/lists/${list.id}/invitations?limit=200`)
      .then((p) => setItems(p.items))
      .catch((e) => { if (e instanceof ApiError && e.status === 404) setMissing(true); });
  useEffect(() => { reload(); }, [list.id, tick]);
  const write = (method, path, body, id) =>
    form.run(async () => {
      await outbox.submit({ kind: "invitation", method, path: `/lists/${list.id}/invitations${path}`, body, listId: list.id, id });
      await reload();
      return true;
    });
  const invite = (e) => {
    e.preventDefault();
    setEmail(""); // at once; refused, the address comes back with the problem next to it
    write("POST", "", { email, role }).then((done) => done || setEmail(email));
  };
  const cancel = (inv) => write("DELETE", `/${inv.id}`, undefined, inv.id);
  return html`<section class="panel" aria-labelledby="inv-h">
    <h2 id="inv-h">Invitations</h2>
    ${missing
      ? html`<${Unavailable} what="Inviting by email" />`
      : html`<ul>${outbox.overlay("invitation", items || [], { listId: list.id }).map((i) => html`<li key=${i.id}><span>${i.email} as ${i.role}${i.pending ? html` <span class="badge waiting">waiting to be sent</span>` : `, until ${formatTime(i.expires_at, zone)}`}</span> <button type="button" onClick=${() => cancel(i)}>Cancel</button></li>`)}</ul>
        <form onSubmit=${invite} novalidate aria-label="Invite by email" class="inline-form">
          <${Field} label="Invite email" type="email" value=${email} onInput=${setEmail} error=${form.errors.email} />
          <${Field} label="Invited role" type="select" value=${role} onInput=${setRole} error=${form.errors.role}>
            <option value="editor">editor</option><option value="viewer">viewer</option><option value="owner">owner</option>
          <//>
          <button type="submit" disabled=${form.busy}>Send invitation</button>
        </form>
        <${FormError} text=${form.formError} />`}
  </section>`;
}
