"""Where a release's graphs live: the embedded Oxigraph store, or a remote SPARQL 1.1 store
reached over the protocol and the Graph Store Protocol, with the dialects some stores need.
Takes a release folder; gives a store with pyoxigraph's query and quad calls.
"""
