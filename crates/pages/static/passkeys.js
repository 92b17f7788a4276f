// Passkeys on Sesame's pages: add one (#add-passkey on the account page) and
// sign in with one (#passkey-sign-in on the sign-in page). Options and
// responses travel as WebAuthn Level 3 JSON (binary members unpadded
// base64url); browsers without parseCreationOptionsFromJSON or toJSON get
// the same conversion done here. Nothing else on the pages needs a script.
"use strict";

(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }
  const status = document.getElementById("passkey-status");
  const say = (text) => {
    if (status) {
      status.textContent = text;
    }
  };

  function toBytes(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function toText(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) {
      binary += String.fromCharCode(byte);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  const withBinaryIds = (list) => (list || []).map((c) => ({ ...c, id: toBytes(c.id) }));

  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: toBytes(json.challenge),
      user: { ...json.user, id: toBytes(json.user.id) },
      excludeCredentials: withBinaryIds(json.excludeCredentials),
    };
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: toBytes(json.challenge),
      allowCredentials: withBinaryIds(json.allowCredentials),
    };
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") {
      return credential.toJSON();
    }
    const answer = credential.response;
    const response = { clientDataJSON: toText(answer.clientDataJSON) };
    if (answer.attestationObject) {
      response.attestationObject = toText(answer.attestationObject);
      response.transports = answer.getTransports ? answer.getTransports() : [];
    } else {
      response.authenticatorData = toText(answer.authenticatorData);
      response.signature = toText(answer.signature);
      if (answer.userHandle) {
        response.userHandle = toText(answer.userHandle);
      }
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response,
    };
  }

  async function post(path, csrf, body) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(answer.error || "Sesame cannot do this right now. Try again in a moment.");
    }
    return answer;
  }

  function wording(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey prompt was closed or timed out. Try again.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This passkey is already on your account.";
    }
    return (error && error.message) || "Something went wrong. Try again.";
  }

  // With a button and a task: the button waits while the task runs.
  function onClick(button, task) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      say("Follow your browser's prompt.");
      try {
        await task(button.dataset.csrf);
      } catch (error) {
        say(wording(error));
        button.disabled = false;
      }
    });
  }

  const add = document.getElementById("add-passkey");
  if (add) {
    onClick(add, async (csrf) => {
      const password = document.getElementById("passkey-password");
      const code = document.getElementById("passkey-code");
      const options = await post("/account/passkeys/register/begin", csrf, {
        current_password: password ? password.value : "",
        code: code && code.value.trim() ? code.value.trim() : null,
      });
      const credential = await navigator.credentials.create({
        publicKey: creationOptions(options.publicKey),
      });
      const field = document.getElementById("passkey-name");
      const name = field ? field.value.trim() : "";
      await post("/account/passkeys/register/finish", csrf, {
        credential: credentialJSON(credential),
        name: name || null,
      });
      window.location.assign("/account/");
    });
  }

  const signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    onClick(signIn, async (csrf) => {
      const options = await post("/account/passkeys/login/begin", csrf);
      const credential = await navigator.credentials.get({
        publicKey: requestOptions(options.publicKey),
      });
      const done = await post("/account/passkeys/login/finish", csrf, {
        credential: credentialJSON(credential),
      });
      window.location.assign(done.redirect || "/account/");
    });
  }

  for (const hidden of document.querySelectorAll("[data-passkeys]")) {
    hidden.hidden = false;
  }
})();
