// Signing up and in, password reset and the pages that mails link to.

import { useEffect, useState } from "../vendor/hooks.module.js";
import { api, ApiError } from "./api.js";
import { Field, FormError, html, message, Unavailable, useFocusHeading, useForm } from "./ui.js";

/** The way to the other form: a link, or on an invitation's page (whose address keeps the token) a button. */
function Other({ href, onClick, children }) {
  return onClick ? html`<button type="button" class="link" onClick=${onClick}>${children}</button>` : html`<a href=${href}>${children}</a>`;
}

export function SignIn({ onSignedIn, features, onSignUp }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const form = useForm(["email", "password"]);
  const heading = useFocusHeading([]);
  const submit = (e) => {
    e.preventDefault();
    form.run(async () => {
      await api("POST", "/auth/login", { body: { email, password } });
      await onSignedIn();
    });
  };
  return html`<section class="card auth" aria-labelledby="signin-h">
    <h1 id="signin-h" tabindex="-1" ref=${heading}>Sign in</h1>
    <form onSubmit=${submit} novalidate>
      <${Field} label="Email" type="email" autocomplete="username" required value=${email} onInput=${setEmail} error=${form.errors.email} />
      <${Field} label="Password" type="password" autocomplete="current-password" required value=${password} onInput=${setPassword} error=${form.errors.password} />
      <${FormError} text=${form.formError} />
      <button type="submit" class="primary" disabled=${form.busy}>Sign in</button>
    </form>
    <p><${Other} href="/#/signup" onClick=${onSignUp}>Create an account<//>${features.passwordReset !== false ? html` · <a href="/#/forgot">Forgot your password?</a>` : ""}</p>
  </section>`;
}

/**
 * Create an account, then sign in. With `invitationToken` (an invitation's link was opened) the
 * token goes with it: an invite-only service needs it, and it proves the address.
 */
export function SignUp({ onSignedIn, invitationToken, onSignIn }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const form = useForm(["email", "password", "display_name", "invitation_token"]);
  const heading = useFocusHeading([]);
  const submit = (e) => {
    e.preventDefault();
    form.run(async () => {
      const body = { email, password };
      if (displayName) body.display_name = displayName;
      if (invitationToken) body.invitation_token = invitationToken;
      await api("POST", "/auth/register", { body });
      await api("POST", "/auth/login", { body: { email, password } });
      await onSignedIn();
    });
  };
  return html`<section class="card auth" aria-labelledby="signup-h">
    <h1 id="signup-h" tabindex="-1" ref=${heading}>${invitationToken ? "Create an account to join the list" : "Create an account"}</h1>
    ${invitationToken &&
    html`<p id="invitation-note" class=${form.errors.invitation_token ? "field-error" : "notice"} role=${form.errors.invitation_token ? "alert" : undefined}>
      ${form.errors.invitation_token
        ? `This invitation cannot be used: ${form.errors.invitation_token} Sign up with the address it was sent to, or ask for a new one.`
        : "You were invited to a list. Use the email address the invitation was sent to; you join the list once your account is made."}
    </p>`}
    <form onSubmit=${submit} novalidate>
      <${Field} label="Email" type="email" autocomplete="email" required value=${email} onInput=${setEmail} error=${form.errors.email} />
      <${Field} label="Name (optional)" autocomplete="name" value=${displayName} onInput=${setDisplayName} error=${form.errors.display_name} />
      <${Field} label="Password" type="password" autocomplete="new-password" required hint="8 to 128 characters, not a common one." value=${password} onInput=${setPassword} error=${form.errors.password} />
      <${FormError} text=${form.formError} />
      <button type="submit" class="primary" disabled=${form.busy}>Create account</button>
    </form>
    <p><${Other} href="/#/signin" onClick=${onSignIn}>I already have an account<//></p>
  </section>`;
}

/** An invitation's link opened signed out: create an account with it, or sign in; then the page accepts it. */
export function Invited({ token, onSignedIn, features }) {
  const [signIn, setSignIn] = useState(false);
  return signIn
    ? html`<${SignIn} onSignedIn=${onSignedIn} features=${features} onSignUp=${() => setSignIn(false)} />`
    : html`<${SignUp} onSignedIn=${onSignedIn} invitationToken=${token} onSignIn=${() => setSignIn(true)} />`;
}

export function Forgot() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const [missing, setMissing] = useState(false);
  const form = useForm(["email"]);
  const heading = useFocusHeading([]);
  const submit = (e) => {
    e.preventDefault();
    form.run(async () => {
      try {
        await api("POST", "/auth/password-reset", { body: { email } });
        setSent(true);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) setMissing(true);
        else throw err;
      }
    });
  };
  return html`<section class="card auth" aria-labelledby="forgot-h">
    <h1 id="forgot-h" tabindex="-1" ref=${heading}>Reset your password</h1>
    ${missing && html`<${Unavailable} what="Password reset by email" />`}
    ${sent
      ? html`<p role="status">If an account has this address, a link to reset its password is on its way.</p>`
      : html`<form onSubmit=${submit} novalidate>
          <${Field} label="Email" type="email" autocomplete="email" required value=${email} onInput=${setEmail} error=${form.errors.email} />
          <${FormError} text=${form.formError} />
          <button type="submit" class="primary" disabled=${form.busy}>Send me a link</button>
        </form>`}
    <p><a href="/#/signin">Back to sign in</a></p>
  </section>`;
}

export function ResetPassword({ token }) {
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const [missing, setMissing] = useState(false);
  const form = useForm(["new_password", "token"]);
  const heading = useFocusHeading([]);
  const submit = (e) => {
    e.preventDefault();
    form.run(async () => {
      try {
        await api("POST", "/auth/password-reset/confirm", { body: { token, new_password: password } });
        setDone(true);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) setMissing(true);
        else throw err;
      }
    });
  };
  return html`<section class="card auth" aria-labelledby="reset-h">
    <h1 id="reset-h" tabindex="-1" ref=${heading}>Choose a new password</h1>
    ${missing && html`<${Unavailable} what="Password reset" />`}
    ${done
      ? html`<p role="status">Your password was changed. <a href="/#/signin">Sign in</a> with it.</p>`
      : html`<form onSubmit=${submit} novalidate>
          ${form.errors.token && html`<p class="field-error" role="alert">This link can no longer be used: ${form.errors.token}. <a href="/#/forgot">Ask for a new one.</a></p>`}
          <${Field} label="New password" type="password" autocomplete="new-password" required value=${password} onInput=${setPassword} error=${form.errors.new_password} />
          <${FormError} text=${form.formError} />
          <button type="submit" class="primary" disabled=${form.busy || !token}>Change password</button>
        </form>`}
  </section>`;
}

/** A page that posts the token of a mail link once and says how it went. */
export function TokenLink({ title, path, token, done, onDone }) {
  const [state, setState] = useState({ status: "working", text: "" });
  const heading = useFocusHeading([]);
  useEffect(() => {
    if (!token) return setState({ status: "failed", text: "This link has no token." });
    api("POST", path, { body: { token } })
      .then((data) => {
        setState({ status: "done", text: done });
        if (onDone) onDone(data);
      })
      .catch((e) => {
        if (e instanceof ApiError && e.status === 404 && !e.problem.errors) setState({ status: "failed", text: `${title} is not available on this service yet.` });
        else if (e instanceof ApiError && e.status === 401) setState({ status: "failed", text: "Sign in first, then open the link again.", signin: true });
        else setState({ status: "failed", text: (e.errors && e.errors.token && e.errors.token.join(" ")) || message(e) });
      });
  }, [token]);
  return html`<section class="card auth" aria-labelledby="link-h">
    <h1 id="link-h" tabindex="-1" ref=${heading}>${title}</h1>
    <p role="status" class=${state.status === "failed" ? "form-error" : ""}>${state.status === "working" ? "Working…" : state.text}</p>
    <p><a href="/#/">Go to your lists</a>${state.signin ? html` · <a href="/#/signin">Sign in</a>` : ""}</p>
  </section>`;
}
