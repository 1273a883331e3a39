import { ApiError } from "../api.ts";
import { api, clearFieldErrors, errorBox, field, live, navigate, showFieldErrors } from "../app.ts";
import { h } from "../dom.ts";
import type { Page } from "../router.ts";

/** Log in and register. After a login the page goes where the user was headed (`?next=`). */
export const loginPage: Page = (main, _params, query) => {
  const email = h("input", { type: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", autocomplete: "current-password", required: true });
  const status = h("div", { class: "form-status" });
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    h("h1", null, "Log in"),
    field({ name: "email", label: "Email", input: email }),
    field({ name: "password", label: "Password", input: password }),
    status,
    h("div", { class: "actions" }, submit, h("a", { href: "/register" }, "Create an account")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    status.replaceChildren();
    submit.disabled = true;
    try {
      await api.login(email.value.trim(), password.value);
      live.start();
      const next = query.get("next");
      navigate(next?.startsWith("/") && !next.startsWith("//") ? next : "/runs", true);
    } catch (err) {
      if (err instanceof ApiError && err.errors.length > 0) showFieldErrors(form, err.errors);
      else status.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  return undefined;
};

export const registerPage: Page = (main) => {
  const name = h("input", { type: "text", autocomplete: "name", required: true });
  const email = h("input", { type: "email", autocomplete: "username", required: true });
  const password = h("input", {
    type: "password",
    autocomplete: "new-password",
    required: true,
    minlength: 8,
  });
  const status = h("div", { class: "form-status" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create account");
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    h("h1", null, "Create an account"),
    field({ name: "name", label: "Name", input: name }),
    field({ name: "email", label: "Email", input: email }),
    field({
      name: "password",
      label: "Password",
      input: password,
      description: "At least 8 characters, not a commonly used password.",
    }),
    status,
    h("div", { class: "actions" }, submit, h("a", { href: "/login" }, "I have an account")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    status.replaceChildren();
    submit.disabled = true;
    try {
      await api.register(email.value.trim(), password.value, name.value.trim());
      await api.login(email.value.trim(), password.value);
      live.start();
      navigate("/runs", true);
    } catch (err) {
      const unclaimed = err instanceof ApiError ? showFieldErrors(form, err.errors) : [];
      if (!(err instanceof ApiError) || err.errors.length === 0 || unclaimed.length > 0) {
        status.replaceChildren(errorBox(err));
      }
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  return undefined;
};
