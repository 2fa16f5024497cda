/* Q&A moderation console: live queue, keyboard shortcuts, claim on select.
 *
 * Polls the queue JSON with If-None-Match and rebuilds the cards from <template>s,
 * filling user text with textContent only (never innerHTML). Forms are sent with
 * fetch (X-Requested-With: fetch) and the queue refreshes; without JavaScript the
 * same forms post and the page reloads.
 *
 * Keys: j / k select next / previous card (selecting claims a question, so other
 * moderators see it is taken), a approve, r reject (focus the reason, Enter sends),
 * s star, o open (edit, merge, ban). On a wave card: a publish as one, r reject all,
 * b ban all.
 */
(function () {
  "use strict";
  // On a question page, #edit / #merge / #ban focus that form's first field.
  if (location.hash && /^#(edit|merge|ban|reject)$/.test(location.hash)) {
    var target = document.querySelector(location.hash + " textarea, " + location.hash + " input[type=text], " + location.hash + " input[type=number]");
    if (target) { target.focus(); }
  }
  var root = document.getElementById("qa-console");
  if (!root || !window.fetch) { return; }
  var queueUrl = root.dataset.queueUrl;
  var questionUrl = root.dataset.questionUrl;   // .../q/0/
  var groupUrl = root.dataset.groupUrl;         // .../g/0/reject/
  var lists = {
    clean: document.getElementById("qa-clean"),
    flagged: document.getElementById("qa-flagged"),
    waves: document.getElementById("qa-waves")
  };
  var cardTpl = document.getElementById("qa-card-template");
  var waveTpl = document.getElementById("qa-wave-template");
  var pending = document.getElementById("qa-pending");
  var note = document.getElementById("qa-console-message");
  var etag = null;
  var selected = null;   // "question:12" or "wave:3"
  var timer = null;

  function say(text, ok) {
    note.hidden = false;
    note.textContent = text;
    note.className = "message " + (ok ? "message--success" : "message--error");
  }

  function qUrl(id, action) {
    var base = questionUrl.replace(/\/0\/$/, "/" + id + "/");
    return action ? base + action + "/" : base;
  }
  function gUrl(id, action) {
    return groupUrl.replace(/\/0\/reject\/$/, "/" + id + "/" + action + "/");
  }

  function fillReasons(ul, reasons) {
    ul.replaceChildren();
    reasons.forEach(function (r) {
      var li = document.createElement("li");
      li.className = "tag";
      li.textContent = r;
      ul.appendChild(li);
    });
  }

  function questionCard(c) {
    var li = cardTpl.content.firstElementChild.cloneNode(true);
    li.dataset.id = String(c.id);
    li.id = "card-" + c.id;
    li.classList.toggle("qa-card--starred", c.starred);
    li.querySelector(".qa-card__text").textContent = c.text;
    li.querySelector(".qa-card__num").textContent = "#" + c.id;
    li.querySelector(".qa-card__name").textContent = c.name;
    li.querySelector(".qa-card__count").hidden = c.count < 2;
    li.querySelector(".qa-card__count-n").textContent = String(c.count);
    li.querySelector(".qa-card__new").hidden = !c.new_person;
    li.querySelector(".qa-card__star").hidden = !c.starred;
    var claim = li.querySelector(".qa-card__claim");
    claim.hidden = !c.claimed_by || c.mine;
    li.querySelector(".qa-card__claim-who").textContent = c.claimed_by;
    fillReasons(li.querySelector(".qa-card__reasons"), c.reasons);
    li.querySelectorAll("form[data-action]").forEach(function (f) { f.action = qUrl(c.id, f.dataset.action); });
    var open = li.querySelector("a[data-action=open]");
    if (open) { open.href = qUrl(c.id); }
    return li;
  }

  function waveCard(w) {
    var li = waveTpl.content.firstElementChild.cloneNode(true);
    li.dataset.id = String(w.group);
    li.id = "wave-" + w.group;
    li.querySelector(".qa-wave__count").textContent = String(w.count);
    li.querySelector(".qa-card__text").textContent = w.text;
    li.querySelector(".qa-wave__askers").textContent = String(w.askers);
    li.querySelector(".qa-wave__domains").textContent = String(w.domains);
    li.querySelector(".qa-wave__networks").textContent = String(w.networks);
    var samples = li.querySelector(".qa-wave__samples");
    samples.replaceChildren();
    w.samples.forEach(function (t) {
      var item = document.createElement("li");
      item.textContent = t;
      samples.appendChild(item);
    });
    fillReasons(li.querySelector(".qa-card__reasons"), w.reasons);
    li.querySelectorAll("form[data-action]").forEach(function (f) { f.action = gUrl(w.group, f.dataset.action); });
    return li;
  }

  function cards() { return Array.prototype.slice.call(root.querySelectorAll("li.qa-card")); }
  function keyOf(li) { return li.dataset.kind + ":" + li.dataset.id; }

  function markSelected() {
    cards().forEach(function (li) { li.classList.toggle("qa-card--selected", keyOf(li) === selected); });
  }

  function render(data) {
    var focusInside = document.activeElement && root.contains(document.activeElement) &&
      document.activeElement.tagName === "INPUT";
    if (focusInside) { return false; }  // don't pull a half-typed reason from under the moderator
    pending.textContent = String(data.pending);
    lists.clean.replaceChildren.apply(lists.clean, data.clean.map(questionCard));
    lists.flagged.replaceChildren.apply(lists.flagged, data.flagged.map(questionCard));
    lists.waves.replaceChildren.apply(lists.waves, data.waves.map(waveCard));
    markSelected();
    // Re-rendering replaced the cards: give focus back to the selected one, so the
    // next key (after s, say) acts on it instead of on the page body.
    var chosen = current();
    if (chosen && (!document.activeElement || document.activeElement === document.body)) {
      chosen.focus({ preventScroll: true });
    }
    return true;
  }

  var seq = 0;

  function poll() {
    // Only the newest request may render or schedule the next poll, so an older
    // response arriving late never paints a stale queue.
    window.clearTimeout(timer);
    var mine = ++seq;
    var headers = {};
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(queueUrl, { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 304) { return null; }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        var tag = r.headers.get("ETag");
        return r.json().then(function (d) { return { data: d, tag: tag }; });
      })
      .then(function (res) {
        if (mine === seq && res && render(res.data)) { etag = res.tag; }
      })
      .catch(function () {})
      .then(function () { if (mine === seq) { timer = window.setTimeout(poll, 2000); } });
  }

  // Counts decisions sent. A claim's failure is shown only if no decision was sent
  // after it started: pressing "a" straight after "j" can decide the question before
  // the claim arrives, and that claim's late "someone else has it" is then stale.
  var sent = 0;

  function send(form) {
    sent += 1;
    return fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (r) {
      return r.json().then(function (d) { say(d.message, d.ok); });
    }).catch(function () { say("Network error", false); })
      .then(function () {
        if (document.activeElement) { document.activeElement.blur(); }
        etag = null;
        poll();
      });
  }

  root.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.action || form.classList.contains("qa-status-form")) { return; }
    event.preventDefault();
    send(form);
  });

  function claim(li) {
    if (li.dataset.kind !== "question") { return; }
    var form = li.querySelector("form[data-action=approve]");
    if (!form) { return; }
    var body = new FormData(form);
    var before = sent;
    fetch(qUrl(li.dataset.id, "claim"), {
      method: "POST", body: body, credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
    }).then(function (r) { return r.json(); }).then(function (d) {
      if (!d.ok && before === sent) { say(d.message, false); }
    });
  }

  function move(step) {
    var all = cards();
    if (!all.length) { return; }
    var index = all.findIndex(function (li) { return keyOf(li) === selected; });
    index = index < 0 ? 0 : Math.max(0, Math.min(all.length - 1, index + step));
    selected = keyOf(all[index]);
    markSelected();
    all[index].focus();
    all[index].scrollIntoView({ block: "nearest" });
    claim(all[index]);
  }

  function current() {
    return cards().find(function (li) { return keyOf(li) === selected; }) || null;
  }

  document.addEventListener("keydown", function (event) {
    var tag = event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.ctrlKey || event.metaKey || event.altKey) {
      if (event.key === "Escape" && event.target.blur) { event.target.blur(); }
      return;
    }
    var key = event.key;
    if (key === "j") { move(1); event.preventDefault(); return; }
    if (key === "k") { move(-1); event.preventDefault(); return; }
    var li = current();
    if (!li) { return; }
    var form = null;
    if (key === "a") { form = li.querySelector("form[data-action=approve]"); }
    else if (key === "s") { form = li.querySelector("form[data-action=star]"); }
    else if (key === "b" && li.dataset.kind === "wave") { form = li.querySelector("form[data-action=ban]"); }
    else if (key === "r") {
      var input = li.querySelector("form[data-action=reject] input[name=reason]");
      if (input && input.type === "text") { input.focus(); event.preventDefault(); return; }
      form = li.querySelector("form[data-action=reject]");
    } else if (key === "o" || key === "e" || key === "m" || key === "b") {
      var open = li.querySelector("a[data-action=open]");
      if (open) {
        var hash = { e: "#edit", m: "#merge", b: "#ban", o: "" }[key];
        window.location.href = open.href + hash;
      }
      return;
    }
    if (form) {
      event.preventDefault();
      if (key !== "s") {
        // Deciding moves on to the next card; starring keeps the moderator on this one.
        var next = cards()[cards().indexOf(li) + 1];
        selected = next ? keyOf(next) : null;
      }
      send(form);
    }
  });

  timer = window.setTimeout(poll, 2000);
}());
