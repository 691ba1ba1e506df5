// The password pre-hash in the browser (SPEC section 2): the typed password never leaves the page.
//
//   prehashV1(username, password) =
//     "$1$" + base64(SHA-512(utf8(canon(username)) + utf8(NFKC(password)))) + "$"
//   canon(username) = NFKC, then Python's full case folding (casefold.js; not toLowerCase).
//
// SHA-512 comes from WebCrypto where the page has crypto.subtle (secure contexts), else from the
// bundled sha512.js. src/signin/crypto/prehash.py computes the same string; tests/browser pins both.
//
// Forms opt in with markup only (no inline script; CSP is script-src 'self'):
//   <form data-prehash data-username-field="username">  or  <form data-prehash data-username="alice">
//     <div data-js-error hidden></div>                     where messages go
//     <input type="password" data-prehash-into="password" data-policy>   unnamed; pre-hash goes
//     <input type="hidden" name="password">                               into this hidden field
//     <input type="password" data-same-as="ID">                          retype, checked, not sent
// data-policy checks a new password: data-min-length on the form, at most 1024, not the username.
//
// API for tests and other pages:
//   window.signinPrehash.{prehashV1, canon, casefold, nfkc, stripName, sha512, usesWebCrypto}.
(function () {
  "use strict";

  var MAX_LENGTH = 1024;
  var FOLD = buildFoldMap(window.SIGNIN_CASEFOLD);
  var UNASSIGNED = window.SIGNIN_CASEFOLD.unassigned; // sorted inclusive pairs (first, last)
  // Python's str.strip(): the characters where str.isspace() (not quite JavaScript's trim()).
  var PY_SPACE = "[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
  var PY_STRIP = new RegExp("^" + PY_SPACE + "+|" + PY_SPACE + "+$", "g");

  function buildFoldMap(table) {
    var map = new Map();
    var runs = table.runs;
    for (var i = 0; i < runs.length; i += 4) {
      var start = runs[i], count = runs[i + 1], step = runs[i + 2], delta = runs[i + 3];
      for (var k = 0; k < count; k++) {
        var code = start + k * step;
        map.set(code, String.fromCodePoint(code + delta));
      }
    }
    Object.keys(table.multi).forEach(function (key) {
      map.set(Number(key), table.multi[key]);
    });
    return map;
  }

  // Python's str.casefold: each code point on its own, no context (unlike toLowerCase's final sigma).
  function casefold(text) {
    var out = "";
    for (var ch of text) {
      var folded = FOLD.get(ch.codePointAt(0));
      out += folded === undefined ? ch : folded;
    }
    return out;
  }

  // True when Python's Unicode database leaves `code` unassigned (binary search over the ranges).
  function unassigned(code) {
    var low = 0, high = UNASSIGNED.length / 2 - 1;
    while (low <= high) {
      var mid = (low + high) >> 1;
      if (code < UNASSIGNED[2 * mid]) high = mid - 1;
      else if (code > UNASSIGNED[2 * mid + 1]) low = mid + 1;
      else return true;
    }
    return false;
  }

  // Python's unicodedata.normalize("NFKC"). The browser's Unicode may be newer than Python's and
  // normalize code points Python does not know; for Python those are inert boundaries, so they are
  // kept as they are and the pieces between them are normalized on their own.
  function nfkc(text) {
    var out = "", piece = "";
    for (var ch of text) {
      if (unassigned(ch.codePointAt(0))) {
        out += piece.normalize("NFKC") + ch;
        piece = "";
      } else {
        piece += ch;
      }
    }
    return out + piece.normalize("NFKC");
  }

  function canon(username) {
    return casefold(nfkc(username));
  }

  function codePointLength(text) {
    return Array.from(text).length;
  }

  function webCrypto() {
    return window.crypto && window.crypto.subtle ? window.crypto.subtle : null;
  }

  function sha512(bytes) {
    var subtle = webCrypto();
    if (subtle) {
      return subtle.digest("SHA-512", bytes).then(function (buffer) {
        return new Uint8Array(buffer);
      });
    }
    return Promise.resolve(window.signinSha512(bytes));
  }

  function base64(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return window.btoa(binary);
  }

  function prehashV1(username, password) {
    var encoder = new TextEncoder();
    var name = encoder.encode(canon(username));
    var secret = encoder.encode(nfkc(password));
    var message = new Uint8Array(name.length + secret.length);
    message.set(name, 0);
    message.set(secret, name.length);
    return sha512(message).then(function (digest) {
      return "$1$" + base64(digest) + "$";
    });
  }

  // --- Forms -------------------------------------------------------------------------------

  function stripName(text) {
    return text.replace(PY_STRIP, "");
  }

  // The name to pre-hash with. Sign-in strips the typed name on the server (str.strip) before
  // it looks the account up and pre-hashes a plaintext, so the browser strips it the same way.
  function usernameOf(form) {
    var field = form.getAttribute("data-username-field");
    if (field) {
      var input = form.elements.namedItem(field);
      var typed = input ? stripName(input.value) : "";
      return { value: typed, input: input || null };
    }
    return { value: form.getAttribute("data-username") || "", input: null };
  }

  function labelOf(input) {
    var label = input.id ? document.querySelector('label[for="' + input.id + '"]') : null;
    return label ? label.textContent.trim() : "Password";
  }

  // The page's translations of these messages (base.html: a JSON data block, never run as
  // script), with `%(name)s` placeholders; the English text when a page has none.
  var translated = null;
  function say(key, english, params) {
    if (translated === null) {
      var block = document.getElementById("signin-messages");
      try { translated = block ? JSON.parse(block.textContent) : {}; } catch (e) { translated = {}; }
    }
    var text = translated[key] || english;
    return text.replace(/%\((\w+)\)[sd]/g, function (all, name) {
      return params && name in params ? String(params[name]) : all;
    });
  }

  // The first problem with the form, as {message, input}, or null when it may be sent.
  function problemOf(form, username) {
    if (username.input && username.value === "") {
      return { message: say("enter_username", "Enter your username."), input: username.input };
    }
    var secrets = form.querySelectorAll("input[data-prehash-into]");
    for (var i = 0; i < secrets.length; i++) {
      var input = secrets[i];
      if (input.value === "") {
        return { message: say("fill_in", "Please fill in: %(field)s.", { field: labelOf(input) }), input: input };
      }
      if (!input.hasAttribute("data-policy")) continue;
      var text = nfkc(input.value);
      var min = parseInt(form.getAttribute("data-min-length") || "0", 10);
      if (codePointLength(text) < min) {
        return { message: say("too_short", "Password must be at least %(min)d characters.", { min: min }), input: input };
      }
      if (codePointLength(text) > MAX_LENGTH) {
        return { message: say("too_long", "Password must be at most %(max)d characters.", { max: MAX_LENGTH }), input: input };
      }
      if (text === nfkc(username.value) || text === canon(username.value)) {
        return { message: say("is_username", "Password must not be the username."), input: input };
      }
    }
    var retypes = form.querySelectorAll("input[data-same-as]");
    for (var j = 0; j < retypes.length; j++) {
      var original = document.getElementById(retypes[j].getAttribute("data-same-as"));
      if (original && original.value !== retypes[j].value) {
        return { message: say("mismatch", "The two passwords do not match."), input: retypes[j] };
      }
    }
    return null;
  }

  // Shows `message` in the form's [data-js-error] box, optionally followed by a link.
  function showError(form, message, input, link) {
    var box = form.querySelector("[data-js-error]");
    if (box) {
      box.textContent = message;
      if (link) {
        var anchor = document.createElement("a");
        anchor.href = link.href;
        anchor.textContent = link.text;
        box.append(" ", anchor);
      }
      box.hidden = false;
    } else {
      window.alert(message);
    }
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
    });
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  function setBusy(form, busy) {
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
      button.disabled = busy;
    });
    if (busy) form.setAttribute("aria-busy", "true");
    else form.removeAttribute("aria-busy");
  }

  function onSubmit(event) {
    var form = event.currentTarget;
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return; // a second click while hashing
    var username = usernameOf(form);
    var problem = problemOf(form, username);
    if (problem) {
      showError(form, problem.message, problem.input);
      return;
    }
    setBusy(form, true);
    var secrets = Array.prototype.slice.call(form.querySelectorAll("input[data-prehash-into]"));
    Promise.all(secrets.map(function (input) {
      return prehashV1(username.value, input.value);
    })).then(function (hashes) {
      secrets.forEach(function (input, i) {
        var target = form.elements.namedItem(input.getAttribute("data-prehash-into"));
        if (!target) throw new Error("no hidden field for the pre-hash");
        target.value = hashes[i];
      });
      // submit() sends the form without firing "submit" again; the button stays disabled.
      form.submit();
    }).catch(function () {
      setBusy(form, false);
      showError(form, say("no_prehash", "This browser could not prepare the password."), null,
        { href: window.location.pathname + "?basic=1", text: say("basic_form", "Use the basic form instead.") });
    });
  }

  // Coming back with the Back button may restore the page as it was: let it be sent again.
  function onPageShow(event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-prehash]").forEach(function (form) {
      setBusy(form, false);
    });
  }

  function attach() {
    document.querySelectorAll("form[data-prehash]").forEach(function (form) {
      form.addEventListener("submit", onSubmit);
    });
    window.addEventListener("pageshow", onPageShow);
  }

  window.signinPrehash = {
    prehashV1: prehashV1,
    canon: canon,
    casefold: casefold,
    nfkc: nfkc,
    stripName: stripName,
    sha512: sha512,
    usesWebCrypto: function () { return webCrypto() !== null; },
    say: say,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", attach);
  else attach();
})();
