/* The composer's SMS segment counter on SMS tickets: the rules of
   caredesk/channels/sms/segments.py (GSM-7 160/153, extension table counts two; else UCS-2 70/67). */
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "\f^{}\\[~]|€";

  function count(text) {
    var chars = Array.from(text);
    var gsm = chars.every(function (c) { return BASIC.indexOf(c) >= 0 || EXTENSION.indexOf(c) >= 0; });
    var units = 0, single = 160, split = 153, encoding = "GSM-7";
    if (gsm) {
      chars.forEach(function (c) { units += EXTENSION.indexOf(c) >= 0 ? 2 : 1; });
    } else {
      single = 70; split = 67; encoding = "UCS-2";
      units = text.length; /* UTF-16 code units: an emoji takes two */
    }
    var segments = units === 0 ? 0 : (units <= single ? 1 : Math.ceil(units / split));
    return { encoding: encoding, units: units, segments: segments };
  }

  function attach(counter) {
    var area = document.getElementById(counter.getAttribute("data-sms-counter"));
    var out = counter.querySelector("[data-sms-count]");
    if (!area || !out) return;
    function update() {
      var c = count(area.value);
      out.textContent = c.units + (c.encoding === "GSM-7" ? " characters" : " UCS-2 units") +
        ", " + c.segments + (c.segments === 1 ? " segment" : " segments") + " (" + c.encoding + ")";
    }
    area.addEventListener("input", update);
    update();
  }

  function init() {
    document.querySelectorAll("[data-sms-counter]").forEach(attach);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
