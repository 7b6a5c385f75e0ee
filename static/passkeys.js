// Passkeys and security keys (WebAuthn). The server sends the options as JSON with binary
// fields in base64url, and takes the browser's answer back the same way. Without
// JavaScript, the pages offer the authenticator app and recovery codes instead.
(() => {
  const toBytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  };
  const toText = (buffer) => {
    if (!buffer) return null;
    let binary = "";
    new Uint8Array(buffer).forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const post = (url, csrf, body) => fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-csrf-token": csrf },
    body: body === undefined ? "{}" : JSON.stringify(body),
  });
  const fail = (message) => {
    const error = document.getElementById("passkey-error");
    if (error) { error.textContent = message; error.hidden = false; }
  };
  const unsupported = () => !window.PublicKeyCredential || !navigator.credentials;

  const register = document.getElementById("passkey-register");
  if (register) {
    register.addEventListener("click", async () => {
      if (unsupported()) return fail("This browser cannot use passkeys.");
      const csrf = register.dataset.csrf;
      try {
        const optionsResponse = await post(register.dataset.options, csrf);
        if (optionsResponse.redirected || !optionsResponse.ok) {
          window.location = optionsResponse.url;
          return;
        }
        const { publicKey } = await optionsResponse.json();
        publicKey.challenge = toBytes(publicKey.challenge);
        publicKey.user.id = toBytes(publicKey.user.id);
        (publicKey.excludeCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
        const made = await navigator.credentials.create({ publicKey });
        const credential = {
          id: made.id,
          rawId: toText(made.rawId),
          type: made.type,
          extensions: made.getClientExtensionResults(),
          response: {
            attestationObject: toText(made.response.attestationObject),
            clientDataJSON: toText(made.response.clientDataJSON),
          },
        };
        const name = (document.getElementById("passkey-name") || {}).value || "";
        const saved = await post(register.dataset.answer, csrf, { name, credential });
        if (!saved.ok) return fail("The passkey was not added.");
        const { recovery_codes: codes } = await saved.json();
        if (codes && codes.length) {
          const list = document.getElementById("recovery-codes");
          codes.forEach((code) => {
            const item = document.createElement("li");
            const text = document.createElement("code");
            text.textContent = code;
            item.append(text);
            list.append(item);
          });
          document.getElementById("passkey-codes").hidden = false;
          register.hidden = true;
        } else {
          window.location.reload();
        }
      } catch (error) {
        fail("The passkey was not added: " + error.message);
      }
    });
  }

  const assert = document.getElementById("passkey-assert");
  if (assert) {
    assert.addEventListener("click", async () => {
      if (unsupported()) return fail("This browser cannot use passkeys.");
      const csrf = assert.dataset.csrf;
      try {
        const optionsResponse = await post(assert.dataset.options, csrf);
        if (!optionsResponse.ok) return fail("Passkeys cannot be used right now.");
        const { publicKey } = await optionsResponse.json();
        publicKey.challenge = toBytes(publicKey.challenge);
        (publicKey.allowCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
        const got = await navigator.credentials.get({ publicKey });
        const answer = {
          id: got.id,
          rawId: toText(got.rawId),
          type: got.type,
          extensions: got.getClientExtensionResults(),
          response: {
            authenticatorData: toText(got.response.authenticatorData),
            clientDataJSON: toText(got.response.clientDataJSON),
            signature: toText(got.response.signature),
            userHandle: toText(got.response.userHandle),
          },
        };
        const checked = await post(assert.dataset.answer, csrf, answer);
        const body = await checked.json().catch(() => ({}));
        if (checked.ok && body.redirect) {
          window.location = body.redirect;
        } else {
          fail(body.error || "That passkey was not accepted.");
        }
      } catch (error) {
        fail("The passkey was not used: " + error.message);
      }
    });
  }
})();
