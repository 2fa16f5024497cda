/* Action pages: live count, copy button, inline validation. Pages work without it. */
(function () {
  "use strict";

  // Live count: refresh the number and the progress bar every 15 seconds.
  var box = document.querySelector("[data-count-url]");
  if (box && window.fetch) {
    var number = box.querySelector("[data-count]");
    var bar = box.querySelector("[data-progress]");
    var refresh = function () {
      fetch(box.getAttribute("data-count-url"), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          if (number) { number.textContent = data.count.toLocaleString("en-GB"); }
          if (bar && data.goal) { bar.max = data.goal; bar.value = data.count; bar.textContent = data.percent + "%"; }
        })
        .catch(function () {});
    };
    window.setInterval(refresh, 15000);
  }

  // Copy the share link.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    var done = button.closest(".field").querySelector(".act-copy__done");
    if (!input || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(function () {
        if (done) { done.textContent = button.getAttribute("data-done") || "Copied"; }
      });
    });
  });

  // Donation amounts: typing another amount chooses "Other amount"; choosing a button
  // clears the typed amount (the server takes a typed amount over a button).
  var other = document.querySelector("input[name=other_amount]");
  if (other) {
    var otherRadio = document.querySelector("input[name=amount][value=other]");
    other.addEventListener("input", function () {
      if (other.value.trim() && otherRadio) { otherRadio.checked = true; }
    });
    document.querySelectorAll("input[name=amount]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        if (radio.value === "other") { other.focus(); } else { other.value = ""; }
      });
    });
  }

  // Inline validation: say what is wrong when a field loses focus.
  var form = document.querySelector("form[data-live-validate]");
  if (!form) { return; }
  var messages = {
    required: "Please fill this in.",
    email: "Enter a valid email address, like name@example.com.",
    formula: "This can't start with =, +, - or @."
  };
  var show = function (input, text) {
    var error = document.getElementById(input.id + "_error");
    if (!error) { return; }
    error.textContent = text;
    var wrap = input.closest(".field");
    if (text) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", error.id);
      if (wrap) { wrap.classList.add("field--error"); }
    } else {
      input.removeAttribute("aria-invalid");
      if (wrap) { wrap.classList.remove("field--error"); }
    }
  };
  var check = function (input) {
    var value = input.value.trim();
    if (input.required && !value) { return messages.required; }
    if (input.type === "email" && value && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) { return messages.email; }
    if ((input.name === "first_name" || input.name === "last_name") && /^[=+\-@]/.test(value)) { return messages.formula; }
    return "";
  };
  form.querySelectorAll("input[type=text], input[type=email]").forEach(function (input) {
    if (input.closest(".act-hp")) { return; }
    input.addEventListener("blur", function () { show(input, check(input)); });
  });
}());
