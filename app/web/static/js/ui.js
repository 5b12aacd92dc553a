// Shared pieces: htm bound to Preact, labelled fields that show the API's errors, small hooks.

import { h } from "../vendor/preact.module.js";
import { useEffect, useRef, useState } from "../vendor/hooks.module.js";
import htm from "../vendor/htm.module.js";
import { ApiError, NetworkError } from "./api.js";

export const html = htm.bind(h);

let uid = 0;
export function useId(prefix) {
  const ref = useRef(null);
  if (ref.current === null) ref.current = `${prefix}-${++uid}`;
  return ref.current;
}

/** The message of an error for people: the problem's detail, or what went wrong on the way. */
export function message(error) {
  if (error instanceof NetworkError) return "The service cannot be reached. Check your connection and try again.";
  if (error instanceof ApiError) {
    const p = error.problem;
    if (error.status === 404 && !p.errors) return p.detail || "Not found.";
    return p.detail || p.title || `The service answered ${error.status}.`;
  }
  return String((error && error.message) || error);
}

/**
 * Form state for one API call: errors by field (from the problem's `errors`), a form-level
 * message, and `busy`. run(fn) calls fn and sorts any problem into the right place.
 */
export function useForm(fields) {
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState("");
  const [busy, setBusy] = useState(false);
  async function run(fn) {
    setBusy(true);
    setErrors({});
    setFormError("");
    try {
      return await fn();
    } catch (e) {
      const byField = {};
      const rest = [];
      for (const [field, texts] of Object.entries((e && e.errors) || {})) {
        if (fields.includes(field)) byField[field] = texts.join(" ");
        else rest.push(`${field === "_schema" ? "" : field + ": "}${texts.join(" ")}`);
      }
      setErrors(byField);
      const detail = message(e);
      setFormError(rest.length ? `${detail} ${rest.join(" ")}` : detail);
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  return { errors, formError, busy, run, setFormError };
}

/** A labelled input; `error` shows under it, tied with aria-describedby. */
export function Field({ label, error, hint, type = "text", value, onInput, children, id, ...rest }) {
  const auto = useId("f");
  const fieldId = id || auto;
  const errorId = `${fieldId}-error`;
  const hintId = `${fieldId}-hint`;
  const described = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(" ") || undefined;
  const props = {
    id: fieldId,
    "aria-invalid": error ? "true" : undefined,
    "aria-describedby": described,
    ...rest,
  };
  let control;
  if (type === "select") {
    control = html`<select ...${props} value=${value} onChange=${(e) => onInput(e.target.value)}>${children}</select>`;
  } else if (type === "textarea") {
    control = html`<textarea ...${props} value=${value} onInput=${(e) => onInput(e.target.value)}></textarea>`;
  } else if (type === "checkbox") {
    return html`<div class="field field-check">
      <input type="checkbox" ...${props} checked=${value} onChange=${(e) => onInput(e.target.checked)} />
      <label for=${fieldId}>${label}</label>
      ${error && html`<p class="field-error" id=${errorId}>${error}</p>`}
    </div>`;
  } else {
    control = html`<input type=${type} ...${props} value=${value} onInput=${(e) => onInput(e.target.value)} />`;
  }
  return html`<div class="field">
    <label for=${fieldId}>${label}</label>
    ${control}
    ${hint && html`<p class="hint" id=${hintId}>${hint}</p>`}
    ${error && html`<p class="field-error" id=${errorId}>${error}</p>`}
  </div>`;
}

export function FormError({ text }) {
  return html`<p class="form-error" role="alert" hidden=${!text}>${text || ""}</p>`;
}

export function Unavailable({ what }) {
  return html`<p class="unavailable" role="status">${what} is not available on this service yet.</p>`;
}

/** Run `fn` after `ms` without a new value. */
export function useDebounced(value, ms) {
  const [current, setCurrent] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setCurrent(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return current;
}

/** Move focus to the page's main heading when the page changes (for keyboard and screen readers). */
export function useFocusHeading(deps) {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current) ref.current.focus();
  }, deps);
  return ref;
}
