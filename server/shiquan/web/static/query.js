// The query page: YASGUI over this server's /sparql, or a plain form when YASGUI is not installed.
// Nothing here talks to another host: the LOV autocompleters are switched off and the endpoint
// catalogue lists only this server.
(function () {
  "use strict";

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var examples = readJson("shiquan-examples") || [];
  var prefixes = readJson("shiquan-prefixes") || {};
  var byName = {};
  examples.forEach(function (e) { byName[e.name] = e; });

  var links = document.querySelectorAll("a.example[data-example]");
  function markActive(name) {
    links.forEach(function (a) { a.classList.toggle("active", a.dataset.example === name); });
  }

  var host = document.getElementById("yasgui");
  if (host && window.Yasgui) {
    var endpoint = new URL(host.dataset.endpoint, window.location.href).href;
    // Only completers that work offline: prefixes (a list bundled with YASQE) and variables.
    // "property" and "class" would query Linked Open Vocabularies on another host.
    var Yasqe = window.Yasgui.Yasqe;
    Yasqe.defaults.autocompleters = ["prefixes", "variables"];
    ["property", "class"].forEach(function (name) { delete Yasqe.Autocompleters[name]; });
    var first = byName[host.dataset.initial] || examples[0];
    var yasgui = new window.Yasgui(host, {
      persistenceId: "shiquan-query",            // namespaced: another YASGUI's state never leaks in
      requestConfig: { endpoint: endpoint, method: "POST" },
      copyEndpointOnNewTab: true,
      endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; }, keys: [] },
      // Share links (YASQE's share button) open here again, always on this server's endpoint.
      populateFromUrl: function (config) {
        config.requestConfig = Object.assign({}, config.requestConfig, { endpoint: endpoint });
        return config;
      },
      autofocus: false,
      tabName: "查询 Query",
      yasqe: { value: first ? first.text : "SELECT * WHERE { ?s ?p ?o } LIMIT 10", autocompleters: ["prefixes", "variables"] },
      yasr: { prefixes: prefixes }
    });
    window.shiquanYasgui = yasgui;

    var run = function (name) {
      var example = byName[name];
      if (!example) return;
      var tab = yasgui.getTab();
      if (tab.getEndpoint() !== endpoint) tab.setEndpoint(endpoint);
      tab.setQuery(example.text);
      markActive(name);
      tab.query().catch(function () { /* YASR shows the error */ });
    };
    links.forEach(function (a) {
      a.addEventListener("click", function (event) {
        event.preventDefault();
        run(a.dataset.example);
      });
    });
    if (host.dataset.initial) run(host.dataset.initial);
    return;
  }

  // Plain form: picking an example copies its text into the textarea.
  var textarea = document.getElementById("plain-query");
  var select = document.getElementById("plain-example");
  var format = document.getElementById("plain-format");
  var load = function (name) {
    var example = byName[name];
    if (!example || !textarea) return;
    textarea.value = example.text;
    if (select) select.value = name;
    if (format) {
      var graph = /^\s*(CONSTRUCT|DESCRIBE)\b/im.test(example.text.replace(/^#.*$/gm, "").replace(/^\s*PREFIX[^\n]*$/gim, ""));
      var kind = format.value === "turtle" || format.value === "jsonld" || format.value === "ntriples" || format.value === "rdfxml";
      if (graph && !kind) format.value = "turtle";
      if (!graph && kind) format.value = "json";
    }
    markActive(name);
    textarea.focus();
  };
  if (select) select.addEventListener("change", function () { load(select.value); });
  if (textarea) {
    links.forEach(function (a) {
      a.addEventListener("click", function (event) {
        event.preventDefault();
        load(a.dataset.example);
      });
    });
  }
})();
