"""The curated inputs: the source registry and its texts, the facts YAML, the Wikidata links TSV,
and the lint that keeps them canonical. Takes data/; gives RDF graphs with a source and a
verbatim quote for every claim, or errors naming file and line.
"""
