/* Live audience page and presenter view for Q&A.
 *
 * Polls the live feed (JSON served from the cache) with If-None-Match, so an
 * unchanged feed costs a 304. Re-renders the list from a <template>, filling user
 * text with textContent only (never innerHTML). Votes are sent with fetch; without
 * JavaScript the same forms post and the page reloads.
 */
(function () {
  "use strict";
  var root = document.getElementById("qa");
  if (!root || !window.fetch) { return; }
  var liveUrl = root.dataset.liveUrl;
  var voteUrl = root.dataset.voteUrl || "";
  var order = root.dataset.order || "top";
  var present = root.dataset.mode === "present";
  var list = document.getElementById("qa-questions");
  var tpl = document.getElementById("qa-question-template");
  var empty = document.getElementById("qa-empty");
  var nowBox = document.getElementById("qa-answering");
  var nowText = document.getElementById("qa-answering-text");
  var statusBadge = document.getElementById("qa-status");
  var etag = null;
  var voted = {};
  var delay = 3000;

  Array.prototype.forEach.call(list.querySelectorAll(".qa-vote__button[disabled]"), function (b) {
    var li = b.closest("li");
    if (li) { voted[li.dataset.id] = true; }
  });

  function clock(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (h && m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return (h ? h + ":" : "") + mm + ":" + ss;
  }

  function render(data) {
    var items = data.questions.slice();
    if (order === "new") {
      items.sort(function (a, b) { return b.created - a.created || b.id - a.id; });
    }
    if (present) {
      items = items.filter(function (q) { return !q.answered; }).slice(0, 8);
    }
    var frag = document.createDocumentFragment();
    var current = null;
    items.forEach(function (q) {
      var li = tpl.content.firstElementChild.cloneNode(true);
      li.id = "q" + q.id;
      li.dataset.id = String(q.id);
      li.classList.toggle("qa-q--now", q.id === data.answering);
      li.classList.toggle("qa-q--answered", q.answered);
      li.querySelector(".qa-q__count").textContent = String(q.votes);
      li.querySelector(".qa-q__text").textContent = q.text;
      li.querySelector(".qa-q__name").textContent = q.name;
      var also = li.querySelector(".qa-q__also");
      also.hidden = !q.also;
      li.querySelector(".qa-q__also-n").textContent = String(q.also);
      var answer = li.querySelector(".qa-q__answer");
      answer.hidden = !q.answered;
      li.querySelector(".qa-q__answer-text").textContent = q.answer || "";
      var at = li.querySelector(".qa-q__at");
      at.hidden = q.at === null || q.at === undefined;
      if (!at.hidden) { li.querySelector(".qa-q__at-time").textContent = clock(q.at); }
      var form = li.querySelector("form.qa-vote");
      if (form) {
        form.action = voteUrl.replace(/\/0\/$/, "/" + q.id + "/");
        var button = form.querySelector("button");
        if (voted[q.id] || data.status !== "open") {
          button.disabled = true;
          if (voted[q.id]) { button.textContent = button.dataset.votedLabel || "✓"; }
        }
      }
      if (q.id === data.answering) { current = q; }
      frag.appendChild(li);
    });
    list.replaceChildren(frag);
    if (empty) { empty.hidden = items.length > 0; }
    if (nowBox) {
      nowBox.hidden = !current;
      nowText.textContent = current ? current.text : "";
    }
    if (statusBadge && data.status) { root.dataset.status = data.status; }
  }

  function poll() {
    var headers = {};
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(liveUrl, { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 304) { return null; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        etag = response.headers.get("ETag");
        return response.json();
      })
      .then(function (data) {
        if (data) { render(data); }
        delay = 3000;
      })
      .catch(function () { delay = Math.min(delay * 2, 30000); })
      .then(function () { window.setTimeout(poll, delay); });
  }

  list.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList.contains("qa-vote")) { return; }
    event.preventDefault();
    var li = form.closest("li");
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin"
    }).then(function (response) {
      if (response.ok && li) { voted[li.dataset.id] = true; }
      else { button.disabled = false; }
      etag = null;
    });
  });

  window.setTimeout(poll, 1000);
}());
