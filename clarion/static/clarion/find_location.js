/* "Use my location" on the event finder: progressive enhancement. Without JavaScript
   (or without geolocation) the postcode form works as it is; with it, a button asks
   the browser for its position and searches by lat/lng, rounded to about 100 m. */
(function () {
  "use strict";
  var form = document.querySelector("form.events-find");
  if (!form || !("geolocation" in navigator)) {
    return;
  }
  var actions = form.querySelector(".find-actions") || form;
  var button = document.createElement("button");
  button.type = "button";
  button.className = "button button--secondary find-locate";
  button.textContent = form.dataset.locateLabel || "Use my location";
  var status = document.createElement("p");
  status.className = "find-locate-status";
  status.setAttribute("role", "status");
  actions.appendChild(document.createTextNode(" "));
  actions.appendChild(button);
  form.appendChild(status);

  button.addEventListener("click", function () {
    button.disabled = true;
    status.textContent = form.dataset.locatingLabel || "";
    navigator.geolocation.getCurrentPosition(
      function (position) {
        var params = new URLSearchParams();
        ["radius", "kind", "date_from", "date_to"].forEach(function (name) {
          var field = form.elements[name];
          if (field && field.value) {
            params.set(name, field.value);
          }
        });
        params.set("lat", position.coords.latitude.toFixed(3));
        params.set("lng", position.coords.longitude.toFixed(3));
        window.location.assign(form.action + "?" + params.toString());
      },
      function () {
        button.disabled = false;
        status.textContent = form.dataset.deniedLabel || "";
        var postcode = form.elements.postcode;
        if (postcode) {
          postcode.focus();
        }
      },
      { timeout: 15000, maximumAge: 600000 }
    );
  });
})();
