// The hosted pages' one script: passkeys (WebAuthn). Every page works without it except
// the passkey buttons, which stay hidden where the browser has no passkey support.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
  const returnTo = document.querySelector('meta[name="return-to"]')?.content ?? "";
  const supported =
    typeof window.PublicKeyCredential === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

  /** POSTs `body` as JSON with the page's CSRF token; the parsed answer, or an Error with
   *  the server's message. */
  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(body ?? {}),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(answer.message || response.statusText);
    }
    return answer;
  }

  function showError(error) {
    if (error && error.name === "AbortError") {
      return;
    }
    const box = document.getElementById("passkey-error");
    if (!box) {
      return;
    }
    const message =
      error && error.name === "NotAllowedError"
        ? box.dataset.cancelled
        : (error && error.message) || String(error);
    box.textContent = message;
    box.hidden = false;
    box.focus();
  }

  /** A ceremony that reads a passkey: options from `base/options` (sent `begin`), the
   *  browser's answer to `base/finish` (with `finish`), then wherever the server says. */
  async function assert(base, begin, finish, mediation, signal) {
    const begun = await post(`${base}/options`, { ...begin, ...(mediation ? { mediation } : {}) });
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(begun.options.publicKey);
    const request = { publicKey };
    if (mediation === "conditional") {
      request.mediation = "conditional";
    }
    if (signal) {
      request.signal = signal;
    }
    const credential = await navigator.credentials.get(request);
    const done = await post(`${base}/finish`, {
      ...finish,
      ceremony: begun.ceremony,
      credential: credential.toJSON(),
    });
    window.location.assign(done.redirect);
  }

  function onSignIn() {
    let autofill = null;
    const button = document.getElementById("passkey-sign-in");
    button?.addEventListener("click", () => {
      autofill?.abort();
      assert("/ui/passkeys/sign-in", {}, { return_to: returnTo }, null, null).catch(showError);
    });
    if (typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") {
      return;
    }
    PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
      if (!available) {
        return;
      }
      autofill = new AbortController();
      assert("/ui/passkeys/sign-in", {}, { return_to: returnTo }, "conditional", autofill.signal)
        .catch(showError);
    });
  }

  function onSecondFactor() {
    document.getElementById("passkey-second-factor")?.addEventListener("click", () => {
      assert("/ui/passkeys/second-factor", {}, { return_to: returnTo }, null, null).catch(
        showError,
      );
    });
  }

  function onReset() {
    const button = document.getElementById("passkey-reset");
    button?.addEventListener("click", () => {
      const form = button.closest("form");
      const token = form.elements.token.value;
      const password = form.elements.new_password;
      if (!password.reportValidity()) {
        return;
      }
      // The new password goes with the answer only, never to the options.
      assert("/ui/passkeys/reset", { token }, { token, new_password: password.value }, null, null)
        .catch(showError);
    });
  }

  function onAccount() {
    document.getElementById("passkey-add")?.addEventListener("click", async () => {
      try {
        const begun = await post("/ui/passkeys/register/options");
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(
          begun.options.publicKey,
        );
        const credential = await navigator.credentials.create({ publicKey });
        const name = document.getElementById("passkey-name")?.value ?? "";
        const done = await post("/ui/passkeys/register/finish", {
          ceremony: begun.ceremony,
          credential: credential.toJSON(),
          name,
        });
        window.location.assign(done.redirect);
      } catch (error) {
        showError(error);
      }
    });
  }

  if (!supported) {
    return;
  }
  for (const element of document.querySelectorAll("[data-passkey]")) {
    element.hidden = false;
  }
  const page = document.body.dataset.page;
  if (page === "sign-in") {
    onSignIn();
  } else if (page === "second-factor") {
    onSecondFactor();
  } else if (page === "reset") {
    onReset();
  } else if (page === "account") {
    onAccount();
  }
})();
