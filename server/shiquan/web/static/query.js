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

  // The plan picker: choosing a plan reloads the page with the examples written for that plan (the server fills them).
  var picker = document.getElementById("plan-picker");
  if (picker && picker.form) {
    picker.addEventListener("change", function () { picker.form.submit(); });
  }

  // Results readable by default: YASR's simple view (values, not RDF syntax) and whole cells, no "…"; a reader's
  // own choice, once made with the table's switches, is kept as YASR keeps it.
  function readableTables(Yasr) {
    var Table = Yasr && Yasr.plugins && Yasr.plugins.table;
    if (!Table || Table.prototype.shiquanReadable) return;
    var draw = Table.prototype.draw;
    Table.prototype.draw = function (config) {
      return draw.call(this, Object.assign({ compact: true, isEllipsed: false }, config || {}));
    };
    Table.prototype.shiquanReadable = true;
  }

  // Each IRI in a results table shown by its label (Chinese first), asked of this server's endpoint; the IRI stays
  // in the link and its title.
  var labelCache = {}, pending = {};
  function labelQuery(iris) {
    return "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n" +
      "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\nPREFIX dcterms: <http://purl.org/dc/terms/>\n" +
      "SELECT ?s ?label WHERE { VALUES ?s { " + iris.map(function (i) { return "<" + i + ">"; }).join(" ") + " } " +
      "?s rdfs:label|skos:prefLabel|dcterms:title ?label . " +
      "FILTER (LANG(?label) = \"zh\" || LANG(?label) = \"\") }";
  }
  function showLabels(root, endpoint) {
    var links = Array.prototype.slice.call(root.querySelectorAll("table a.iri:not([data-labelled])"));
    var wanted = [];
    links.forEach(function (a) {
      var iri = a.getAttribute("href");
      if (/^https?:[^<>"\s{}|\\^`]*$/.test(iri) && !(iri in labelCache) && wanted.indexOf(iri) < 0) wanted.push(iri);
    });
    var apply = function () {
      links.forEach(function (a) {
        var label = labelCache[a.getAttribute("href")];
        if (pending[a.getAttribute("href")]) return;
        a.setAttribute("data-labelled", "");
        if (!label) return;
        a.title = a.getAttribute("href");
        a.textContent = label;
      });
    };
    wanted = wanted.slice(0, 200);  // one page of a table; the next page asks for its own
    if (!wanted.length) { apply(); return; }
    wanted.forEach(function (iri) { labelCache[iri] = null; pending[iri] = true; });
    var body = new URLSearchParams({ query: labelQuery(wanted) });
    fetch(endpoint, { method: "POST", body: body, headers: { Accept: "application/sparql-results+json" } })
      .then(function (r) { return r.ok ? r.json() : { results: { bindings: [] } }; })
      .then(function (json) {
        wanted.forEach(function (iri) { delete pending[iri]; });
        json.results.bindings.forEach(function (b) {
          if (!labelCache[b.s.value] || b.label["xml:lang"] === "zh") labelCache[b.s.value] = b.label.value;
        });
        apply();
      })
      .catch(function () { wanted.forEach(function (iri) { delete pending[iri]; }); });
  }

  var host = document.getElementById("yasgui");
  if (host && window.Yasgui) {
    readableTables(window.Yasgui.Yasr);
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
    new MutationObserver(function () { showLabels(host, endpoint); }).observe(host, { childList: true, subtree: true });

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
