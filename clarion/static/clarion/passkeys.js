/* Members' passkeys: progressive enhancement. The server's options come as WebAuthn
   JSON (binary fields base64url); this turns them into what navigator.credentials
   wants, and the authenticator's answer back into JSON for the server. Without
   JavaScript or passkey support the parts marked data-passkey stay hidden and the
   email link is all the page offers. */
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
    return;
  }

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var text = atob(base64);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) {
      bytes[i] = text.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) {
      text += String.fromCharCode(bytes[i]);
    }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    json.challenge = toBytes(json.challenge);
    json.user.id = toBytes(json.user.id);
    (json.excludeCredentials || []).forEach(function (c) {
      c.id = toBytes(c.id);
    });
    return json;
  }

  function requestOptions(json) {
    json.challenge = toBytes(json.challenge);
    (json.allowCredentials || []).forEach(function (c) {
      c.id = toBytes(c.id);
    });
    return json;
  }

  function credentialJSON(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) {
        response.transports = r.getTransports();
      }
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) {
        response.userHandle = toText(r.userHandle);
      }
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults
        ? credential.getClientExtensionResults()
        : {},
      authenticatorAttachment: credential.authenticatorAttachment || null
    };
  }

  function post(root, url, body) {
    var token = root.querySelector("input[name=csrfmiddlewaretoken]");
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": token ? token.value : ""
      },
      body: body === undefined ? "{}" : JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(
        function (data) {
          if (!response.ok) {
            throw { server: data.error || "" };
          }
          return data;
        },
        function () {
          throw { server: "" };
        }
      );
    });
  }

  function failed(root, status, error) {
    // The server's refusals say what went wrong; a cancelled prompt or a browser
    // error gets the page's general message.
    status.textContent = (error && error.server) || root.dataset.failedLabel || "";
  }

  // Adding a passkey (the member's passkeys page).
  var add = document.querySelector("form[data-passkey=add]");
  if (add) {
    var note = document.querySelector(".passkey-unsupported");
    if (note) {
      note.hidden = true;
    }
    add.hidden = false;
    var addStatus = add.querySelector(".passkey-status");
    var addButton = add.querySelector("button[type=submit]");
    var nameField = add.elements.namedItem("name");
    add.addEventListener("submit", function (event) {
      event.preventDefault();
      addButton.disabled = true;
      addStatus.textContent = "";
      post(add, add.dataset.optionsUrl)
        .then(function (options) {
          return navigator.credentials.create({ publicKey: creationOptions(options) });
        })
        .then(function (credential) {
          return post(add, add.dataset.url, {
            name: nameField ? nameField.value : "",
            credential: credentialJSON(credential)
          });
        })
        .then(function (answer) {
          window.location.assign(answer.redirect);
        })
        .catch(function (error) {
          addButton.disabled = false;
          failed(add, addStatus, error);
        });
    });
  }

  // Signing in with a passkey (the sign-in page).
  var signIn = document.querySelector("[data-passkey=sign-in]");
  if (signIn) {
    signIn.hidden = false;
    var status = signIn.querySelector(".passkey-status");
    var button = signIn.querySelector("button");
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "";
      post(signIn, signIn.dataset.optionsUrl)
        .then(function (options) {
          return navigator.credentials.get({ publicKey: requestOptions(options) });
        })
        .then(function (credential) {
          return post(signIn, signIn.dataset.url, { credential: credentialJSON(credential) });
        })
        .then(function (answer) {
          window.location.assign(answer.redirect);
        })
        .catch(function (error) {
          button.disabled = false;
          failed(signIn, status, error);
        });
    });
  }
})();
