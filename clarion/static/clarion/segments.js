/* Segment builder: adds and removes condition rows in the page instead of reloading,
   and keeps a live, exact count. Without this script the same form works through its
   buttons (the server re-renders it). The count endpoint takes the form's own fields. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-segment-builder]");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var countUrl = form.getAttribute("data-count-url");
  var output = document.getElementById("segment-count");
  var timer = null;
  var sequence = 0;
  var nextIndex = 1;

  form.querySelectorAll("input[name=node]").forEach(function (input) {
    var n = parseInt(input.value.slice(1), 10);
    if (n >= nextIndex) {
      nextIndex = n + 1;
    }
  });

  function csrfToken() {
    var field = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) {
      return field.value;
    }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function fromTemplate(id, prefix, group) {
    var template = document.getElementById(id);
    if (!template) {
      return null;
    }
    var fragment = template.content.cloneNode(true);
    fragment.querySelectorAll("*").forEach(function (el) {
      Array.prototype.slice.call(el.attributes).forEach(function (attr) {
        if (attr.value.indexOf("__prefix__") !== -1 || attr.value.indexOf("__group__") !== -1) {
          el.setAttribute(attr.name, attr.value.split("__prefix__").join(prefix).split("__group__").join(group));
        }
      });
    });
    return fragment;
  }

  function childrenOf(groupPrefix) {
    return form.querySelector('[data-children="' + groupPrefix + '"]');
  }

  function updateEmptyNotes() {
    form.querySelectorAll("[data-children]").forEach(function (container) {
      var note = container.querySelector(":scope > .segment-empty");
      var hasChildren = container.querySelector(":scope > .segment-row, :scope > .segment-group") !== null;
      if (note) {
        note.hidden = hasChildren;
      }
    });
  }

  // A filter box over a long tag or list picker (the checkboxes work without it).
  // Ticked choices stay in view whatever the filter says.
  var PICKER_FILTER_FROM = 8;

  function enhancePickers(root) {
    root.querySelectorAll("[data-picker]").forEach(function (picker) {
      var options = picker.querySelector(".segment-picker__options");
      var boxes = picker.querySelectorAll("input[type=checkbox]");
      if (!options || picker.querySelector(".segment-picker__filter") || boxes.length < PICKER_FILTER_FROM) {
        return;
      }
      var base = (boxes[0].id || "picker").replace(/_0$/, "");
      var wrap = document.createElement("div");
      wrap.className = "segment-picker__filter";
      var label = document.createElement("label");
      label.setAttribute("for", base + "-filter");
      label.textContent = picker.getAttribute("data-filter-label") || "Filter";
      var input = document.createElement("input");
      input.type = "search";
      input.id = base + "-filter";
      input.setAttribute("autocomplete", "off");
      wrap.appendChild(label);
      wrap.appendChild(input);
      options.parentNode.insertBefore(wrap, options);
      input.addEventListener("input", function () {
        var words = input.value.trim().toLowerCase();
        boxes.forEach(function (box) {
          var row = box.closest("label").parentNode;
          var text = box.closest("label").textContent.toLowerCase();
          row.hidden = Boolean(words) && !box.checked && text.indexOf(words) === -1;
        });
      });
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault(); // filtering, not submitting the builder
        }
      });
    });
  }

  function addCondition(groupPrefix) {
    var select = form.querySelector('[name="add-type-' + groupPrefix + '"]');
    var container = childrenOf(groupPrefix);
    if (!select || !container) {
      return;
    }
    var prefix = "r" + nextIndex++;
    var fragment = fromTemplate("segment-template-" + select.value, prefix, groupPrefix);
    if (!fragment) {
      return;
    }
    var row = fragment.firstElementChild;
    container.appendChild(fragment);
    updateEmptyNotes();
    if (row) {
      enhancePickers(row);
    }
    var first = row && row.querySelector("select, input:not([type=hidden]), textarea");
    if (first) {
      first.focus();
    }
    schedule();
  }

  function addGroup(groupPrefix) {
    var container = childrenOf(groupPrefix);
    if (!container) {
      return;
    }
    var prefix = "g" + nextIndex++;
    var fragment = fromTemplate("segment-template-group", prefix, groupPrefix);
    var group = fragment.firstElementChild;
    container.appendChild(fragment);
    updateEmptyNotes();
    var select = group && group.querySelector("select");
    if (select) {
      select.focus();
    }
    schedule();
  }

  function remove(prefix) {
    var node = form.querySelector('[data-node="' + prefix + '"], [data-group="' + prefix + '"]');
    if (!node) {
      return;
    }
    var parent = node.parentElement.closest("[data-group]");
    node.remove();
    updateEmptyNotes();
    var focusTarget = parent && parent.querySelector(".segment-add select");
    if (focusTarget) {
      focusTarget.focus();
    }
    schedule();
  }

  function show(text, isError) {
    output.textContent = text;
    output.classList.toggle("segment-count--error", Boolean(isError));
  }

  function refresh() {
    var mine = ++sequence;
    var data = new FormData(form);
    data.set("action", "count");
    output.setAttribute("aria-busy", "true");
    fetch(countUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" }
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (result) {
        if (mine !== sequence) {
          return; // a newer count is on its way
        }
        output.removeAttribute("aria-busy");
        if (result.ok) {
          show(result.body.text, false);
        } else {
          show((result.body.errors || []).join(" "), true);
        }
      })
      .catch(function () {
        if (mine === sequence) {
          output.removeAttribute("aria-busy");
          show(form.getAttribute("data-count-failed"), true);
        }
      });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 350);
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[name=action]");
    if (!button) {
      return;
    }
    var parts = button.value.split(":");
    var verb = parts[0];
    var target = parts[1] || "";
    if (verb === "add") {
      event.preventDefault();
      addCondition(target);
    } else if (verb === "addgroup") {
      event.preventDefault();
      addGroup(target);
    } else if (verb === "remove") {
      event.preventDefault();
      remove(target);
    } else if (verb === "count") {
      event.preventDefault();
      window.clearTimeout(timer);
      refresh();
    }
  });

  function counts(name) {
    return Boolean(name) && name.indexOf("add-type-") !== 0 && name !== "name" && name !== "description";
  }

  form.addEventListener("input", function (event) {
    if (counts(event.target.name)) {
      schedule();
    }
  });
  form.addEventListener("change", function (event) {
    if (counts(event.target.name)) {
      schedule();
    }
  });

  updateEmptyNotes();
  enhancePickers(form);
  refresh();
})();
