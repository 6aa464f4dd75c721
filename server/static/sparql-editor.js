// The query editor at /sparql: YASGUI on this endpoint only, with the project's example queries,
// the endpoint's predeclared prefixes known to the editor, and result cells that name each record
// and link to its page on this server.
(function () {
  "use strict";
  var root = document.getElementById("yasgui");
  var endpoint = root.getAttribute("data-endpoint");
  var base = root.getAttribute("data-base");
  var examples = JSON.parse(document.getElementById("examples").textContent);
  var prefixes = JSON.parse(document.getElementById("prefixes").textContent);
  var Yasqe = Yasgui.Yasqe;

  // The endpoint predeclares these prefixes, so the editor's checker starts every query knowing
  // them: `org:Membership` without a PREFIX line is not "not defined".
  var factory = Yasqe.modes && Yasqe.modes.sparql11;
  if (factory) {
    Yasqe.defineMode("sparql11", function (config, parserConfig) {
      var mode = factory(config, parserConfig);
      var startState = mode.startState;
      mode.startState = function () {
        var state = startState.apply(this, arguments);
        Object.keys(prefixes).forEach(function (name) {
          if (state.prefixes[name] === undefined) state.prefixes[name] = prefixes[name];
        });
        return state;
      };
      return mode;
    });
  }
  // Only the variable autocompleter: the prefix one writes PREFIX lines the endpoint does not
  // need, and the LOV class and property ones call a remote host.
  Yasqe.defaults.autocompleters = ["variables"];
  if (examples.length) {
    Yasqe.defaults.value = examples[0].query;
  }

  var yasgui = new Yasgui(root, {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: {
      getData: function () { return [{ endpoint: endpoint }]; },
      keys: [],
    },
    yasr: { prefixes: prefixes },
    persistenceId: "treatygraph-sparql",
  });

  // The tab's title says which query it holds, so two open query tabs can be told apart.
  function titleOf(query) {
    var question = /^#\s*Question:\s*(.+)$/m.exec(query || "");
    if (question) return question[1].trim();
    var first = (query || "").split("\n").filter(function (line) {
      return line.trim() && !/^\s*(#|PREFIX|BASE)/i.test(line);
    })[0];
    return first ? first.trim().slice(0, 60) : "";
  }
  function showTitle() {
    var title = titleOf(yasgui.getTab().getQuery());
    document.title = (title ? title + " · " : "") + "Query · treatygraph";
  }
  yasgui.on("query", showTitle);
  yasgui.on("tabSelect", function () { setTimeout(showTitle, 0); });
  showTitle();

  document.querySelectorAll("[data-example]").forEach(function (button) {
    button.addEventListener("click", function () {
      var example = examples[Number(button.getAttribute("data-example"))];
      var tab = yasgui.getTab();
      tab.setEndpoint(endpoint);
      tab.setQuery(example.query);
      tab.getYasqe().focus();
      showTitle();
    });
  });

  // Result cells: a record of this dataset links to its page here, in this tab, under its name.
  var names = {};
  var asked = {};
  function localCells() {
    var links = root.querySelectorAll(".yasr_results a[href^='" + base + "/']:not([data-iri])");
    var wanted = [];
    links.forEach(function (link) {
      var iri = link.getAttribute("href");
      link.setAttribute("data-iri", iri);
      link.setAttribute("href", iri.slice(base.length));
      link.removeAttribute("target");
      link.classList.add("local-link");
      link.title = iri;
      if (!(iri in asked)) { asked[iri] = true; wanted.push(iri); }
    });
    name();
    if (wanted.length) {
      fetch("/labels", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(wanted.slice(0, 500)),
      }).then(function (response) { return response.ok ? response.json() : {}; })
        .then(function (found) { Object.assign(names, found); name(); });
    }
  }
  function name() {
    root.querySelectorAll(".yasr_results a[data-iri]:not([data-named])").forEach(function (link) {
      var found = names[link.getAttribute("data-iri")];
      if (found) {
        link.textContent = found.label;
        link.setAttribute("data-named", "");
        // A name needs no <…> around it: those mark a bare IRI.
        [link.previousSibling, link.nextSibling].forEach(function (node) {
          if (node && node.nodeType === Node.TEXT_NODE) node.textContent = node.textContent.replace(/^<$|^>$/, "");
        });
      }
    });
  }
  // A literal reads as its value, its datatype or language small beside it: 2006-01-01 xsd:date.
  function plainLiterals() {
    root.querySelectorAll(".yasr_results span.nonIri:not([data-plain])").forEach(function (cell) {
      cell.setAttribute("data-plain", "");
      var value = cell.firstChild;
      var suffix = cell.querySelector("sup");
      if (!value || value.nodeType !== Node.TEXT_NODE || !suffix) return;
      value.textContent = value.textContent.replace(/^"([\s\S]*)"$/, "$1");
      suffix.classList.add("literal-datatype");
      suffix.firstChild.textContent = suffix.firstChild.textContent.replace(/^\^\^/, " ");
    });
  }
  var pending = false;
  new MutationObserver(function () {
    if (pending) return;
    pending = true;
    setTimeout(function () { pending = false; localCells(); plainLiterals(); }, 0);
  }).observe(root, { childList: true, subtree: true });
})();
