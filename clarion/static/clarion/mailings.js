/* The mailing composer's merge-field picker: each listed merge field gets an "Insert"
 * button that puts it at the cursor of the subject, preheader or body last focused
 * (the body when none was). Without JavaScript the list shows what to type. */
(function () {
  "use strict";
  var picker = document.getElementById("merge-picker");
  if (!picker) { return; }
  var form = picker.closest("form");
  var target = document.getElementById(picker.dataset.target);
  var targets = "input[name^=subject], input[name=preheader], textarea[name^=body]";
  form.addEventListener("focusin", function (event) {
    if (event.target.matches(targets)) { target = event.target; }
  });
  picker.querySelectorAll("li").forEach(function (item) {
    var code = item.querySelector("code").textContent;
    var name = item.querySelector(".merge-picker__label").textContent;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button--quiet";
    button.textContent = "Insert";
    button.setAttribute("aria-label", "Insert " + name);
    button.addEventListener("click", function () {
      if (!target) { return; }
      var start = target.selectionStart === null ? target.value.length : target.selectionStart;
      var end = target.selectionEnd === null ? start : target.selectionEnd;
      target.value = target.value.slice(0, start) + code + target.value.slice(end);
      target.focus();
      target.setSelectionRange(start + code.length, start + code.length);
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
    item.insertBefore(button, item.firstChild);
  });
}());
