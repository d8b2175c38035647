/* Passkeys (WebAuthn) as progressive enhancement: without JavaScript or WebAuthn nothing here runs and
   the pages keep their code forms. Two parts:
   - #passkey-add (the Passkeys page): name a passkey, create it, send it to the server;
   - #passkey-option (the sign-in code page and the confirm page): "Use a passkey".
   The server gives the options (base64url fields) and checks the answer; this file only converts bytes. */
(function () {
  "use strict";

  var needsJs = document.getElementById("passkey-needs-js");
  var supported = !!(window.PublicKeyCredential && window.fetch && navigator.credentials);
  if (needsJs) { needsJs.hidden = true; }
  if (!supported) {
    var unsupported = document.getElementById("passkey-unsupported");
    if (unsupported) { unsupported.hidden = false; }
    return;
  }

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = { type: item.type, id: toBytes(item.id) };
      if (item.transports) { copy.transports = item.transports; }
      return copy;
    });
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error(data.detail || response.statusText || "Error"); }
        return data;
      });
    });
  }

  function asJson(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (credential.authenticatorAttachment) { out.authenticatorAttachment = credential.authenticatorAttachment; }
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) { out.response.transports = response.getTransports(); }
    }
    if (response.authenticatorData) {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      if (response.userHandle) { out.response.userHandle = toBase64url(response.userHandle); }
    }
    return out;
  }

  function showError(box, message) {
    var slot = box.querySelector(".passkey-error");
    if (!slot) { return; }
    slot.textContent = message;
    slot.hidden = !message;
  }

  function cancelled(error) {
    return error && (error.name === "NotAllowedError" || error.name === "AbortError");
  }

  /* The Passkeys page: add one. */
  var addForm = document.getElementById("passkey-add");
  if (addForm) {
    addForm.hidden = false;
    addForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var csrf = addForm.getAttribute("data-csrf");
      var nameField = addForm.querySelector("input[name='name']");
      var name = nameField ? nameField.value.trim() : "";
      var button = addForm.querySelector("[type='submit']");
      showError(addForm, "");
      if (!name) { showError(addForm, addForm.getAttribute("data-required")); nameField.focus(); return; }
      button.disabled = true;
      post(addForm.getAttribute("data-options-url"), csrf, {}).then(function (options) {
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        options.excludeCredentials = descriptors(options.excludeCredentials);
        return navigator.credentials.create({ publicKey: options });
      }).then(function (credential) {
        return post(addForm.getAttribute("data-verify-url"), csrf, { name: name, credential: asJson(credential) });
      }).then(function (result) {
        window.location.assign(result.redirect || window.location.href);
      }).catch(function (error) {
        button.disabled = false;
        showError(addForm, cancelled(error) ? addForm.getAttribute("data-cancelled") : error.message);
      });
    });
  }

  /* The sign-in code page and the confirm page: use one. */
  var option = document.getElementById("passkey-option");
  if (option) {
    option.hidden = false;
    var useButton = document.getElementById("passkey-use");
    useButton.addEventListener("click", function () {
      var csrf = option.getAttribute("data-csrf");
      showError(option, "");
      useButton.disabled = true;
      post(option.getAttribute("data-options-url"), csrf, {}).then(function (options) {
        options.challenge = toBytes(options.challenge);
        options.allowCredentials = descriptors(options.allowCredentials);
        return navigator.credentials.get({ publicKey: options });
      }).then(function (credential) {
        return post(option.getAttribute("data-verify-url"), csrf,
                    { credential: asJson(credential), next: option.getAttribute("data-next") || "" });
      }).then(function (result) {
        window.location.assign(result.redirect || "/");
      }).catch(function (error) {
        useButton.disabled = false;
        showError(option, cancelled(error) ? option.getAttribute("data-cancelled") : error.message);
      });
    });
  }
})();
