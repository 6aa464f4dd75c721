// The query editor at /sparql: YASGUI on this endpoint only, with the project's example queries.
(function () {
  "use strict";
  var root = document.getElementById("yasgui");
  var endpoint = root.getAttribute("data-endpoint");
  var examples = JSON.parse(document.getElementById("examples").textContent);

  // Only the autocompleters that work offline: the LOV class/property ones call a remote host.
  Yasgui.Yasqe.defaults.autocompleters = ["prefixes", "variables"];
  if (examples.length) {
    Yasgui.Yasqe.defaults.value = examples[0].query;
  }

  var yasgui = new Yasgui(root, {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: {
      getData: function () { return [{ endpoint: endpoint }]; },
      keys: [],
    },
    persistenceId: "treatygraph-sparql",
  });

  document.querySelectorAll("[data-example]").forEach(function (button) {
    button.addEventListener("click", function () {
      var example = examples[Number(button.getAttribute("data-example"))];
      var tab = yasgui.getTab();
      tab.setEndpoint(endpoint);
      tab.setQuery(example.query);
      tab.getYasqe().focus();
    });
  });
})();
