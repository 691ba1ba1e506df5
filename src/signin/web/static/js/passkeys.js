// Passkeys (SPEC section 14) on /sign-in and /account. Markup opts in (no inline script):
//
//   <div data-passkey-sign-in="FORM-ID" hidden>      the sign-in page: a button, and autofill on
//     <p data-passkey-error hidden></p>               the username field of form FORM-ID
//     <button type="button" data-passkey-button>     (autocomplete="username webauthn"); next, sig
//   </div>                                            and remember are read from that form
//   <div data-passkey-second-step="FORM-ID" hidden>  the second sign-in step: a passkey
//     (error box and button as above)                 instead of a code (CSRF from FORM-ID)
//   <form data-passkey-add hidden> ... name ...       the account page: add a named passkey
//   <p data-passkey-unsupported hidden>               shown where WebAuthn is missing
//
// Where WebAuthn is missing everything stays hidden, and nothing here ever waits on or holds up
// the password form. The server's JSON endpoints want application/json, this page's CSRF token
// in X-CSRF-Token, and keep the challenge in an HttpOnly cookie (web/passkeys.py).
(function () {
  "use strict";

  var API = "/api/v1/passkeys";

  // Messages in the page's language, through password.js (loaded first on every page).
  function say(key, english, params) {
    var helper = window.signinPrehash && window.signinPrehash.say;
    return helper ? helper(key, english, params) : english;
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials &&
              navigator.credentials.create && navigator.credentials.get);
  }

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer), binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBuffer(item.id), transports: item.transports };
    });
  }

  // The server's options are WebAuthn JSON; the browser API wants buffers.
  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (credential.authenticatorAttachment) out.authenticatorAttachment = credential.authenticatorAttachment;
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      out.response.userHandle = response.userHandle ? toText(response.userHandle) : null;
    }
    return out;
  }

  // POST JSON; resolves with the parsed answer, rejects with the problem's `detail`.
  function post(path, body, csrf) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) throw new Error(answer.detail || say("passkey_refused", "The server refused the passkey (%(status)s).", { status: response.status }));
        return answer;
      });
    });
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      return say("passkey_not_used", "The passkey was not used: the request was cancelled, timed out, or could not verify you.");
    }
    if (error && error.name === "InvalidStateError") return say("passkey_exists", "This device already holds a passkey for your account.");
    if (error && error.name === "SecurityError") return say("passkey_address", "Passkeys do not work at this address.");
    return (error && error.message) || say("passkey_failed", "The passkey did not work. Please try again.");
  }

  function errorBox(root) {
    var box = root.querySelector("[data-passkey-error]");
    return {
      show: function (error) { box.textContent = explain(error); box.hidden = false; },
      hide: function () { box.hidden = true; box.textContent = ""; }
    };
  }

  function csrfOf(root) {
    var field = root.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function setUpSignIn(box) {
    var form = document.getElementById(box.getAttribute("data-passkey-sign-in"));
    if (!form) return;
    var button = box.querySelector("[data-passkey-button]");
    var errors = errorBox(box);
    var csrf = csrfOf(form);
    var autofill = null; // the AbortController of the pending autofill request

    function fields() {
      var body = { remember: !!(form.elements.remember && form.elements.remember.checked) };
      if (form.elements.next) body.next = form.elements.next.value;
      if (form.elements.sig) body.sig = form.elements.sig.value;
      return body;
    }

    function run(conditional) {
      // The autofill request is abortable from its start, options fetch included, so a click
      // on the button never leaves two requests in flight.
      var controller = conditional ? new AbortController() : null;
      if (controller) autofill = controller;
      return post(API + "/sign-in/options", {}, csrf).then(function (started) {
        var request = { publicKey: requestOptions(started.publicKey) };
        if (controller) {
          if (controller.signal.aborted) throw new DOMException("replaced by the button", "AbortError");
          request.mediation = "conditional";
          request.signal = controller.signal;
        }
        return navigator.credentials.get(request);
      }).then(function (credential) {
        autofill = null;
        var body = Object.assign({ credential: credentialJSON(credential) }, fields());
        return post(API + "/sign-in", body, csrf).catch(function (error) {
          if (error) error.afterPick = true; // the person chose a passkey: tell them what failed
          throw error;
        });
      }).then(function (done) {
        window.location.assign(done.location);
      });
    }

    button.addEventListener("click", function () {
      if (autofill) { autofill.abort(); autofill = null; }
      errors.hide();
      button.disabled = true;
      run(false).catch(errors.show).then(function () { button.disabled = false; });
    });
    box.hidden = false;

    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) return;
        // Autofill waits in the background: a failure before anyone picks a passkey (an address
        // where passkeys cannot work, such as an IP address) says nothing on the page; the
        // button explains it when someone asks for a passkey.
        run(true).catch(function (error) {
          if (error && error.afterPick) errors.show(error);
        });
      }, function () {});
    }
  }

  function setUpSecondStep(box) {
    var form = document.getElementById(box.getAttribute("data-passkey-second-step"));
    if (!form) return;
    var button = box.querySelector("[data-passkey-button]");
    var errors = errorBox(box);
    var csrf = csrfOf(form);
    button.addEventListener("click", function () {
      errors.hide();
      button.disabled = true;
      post(API + "/second-step/options", {}, csrf).then(function (started) {
        return navigator.credentials.get({ publicKey: requestOptions(started.publicKey) });
      }).then(function (credential) {
        return post(API + "/second-step", { credential: credentialJSON(credential) }, csrf);
      }).then(function (done) {
        window.location.assign(done.location);
      }).catch(function (error) {
        errors.show(error);
        button.disabled = false;
      });
    });
    box.hidden = false;
  }

  function setUpAdd(form) {
    var errors = errorBox(form);
    var csrf = csrfOf(form);
    var button = form.querySelector('button[type="submit"]');
    var name = form.elements.name;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      errors.hide();
      if (!name.value.trim()) {
        errors.show(new Error(say("passkey_name", "Give the passkey a name, such as the device it lives on.")));
        name.focus();
        return;
      }
      button.disabled = true;
      post(API + "/registration", {}, csrf).then(function (started) {
        return navigator.credentials.create({ publicKey: creationOptions(started.publicKey) });
      }).then(function (credential) {
        return post(API, { name: name.value, credential: credentialJSON(credential) }, csrf);
      }).then(function () {
        window.location.reload();
      }).catch(function (error) {
        errors.show(error);
        button.disabled = false;
      });
    });
    form.hidden = false;
  }

  function start() {
    if (!supported()) {
      document.querySelectorAll("[data-passkey-unsupported]").forEach(function (note) { note.hidden = false; });
      return;
    }
    document.querySelectorAll("[data-passkey-sign-in]").forEach(setUpSignIn);
    document.querySelectorAll("[data-passkey-second-step]").forEach(setUpSecondStep);
    document.querySelectorAll("[data-passkey-add]").forEach(setUpAdd);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
