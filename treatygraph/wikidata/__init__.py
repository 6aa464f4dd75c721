"""Wikidata: the Wikidata-shaped view of our statements, a SPARQLWrapper client of a Wikidata
endpoint that proposes links, and the diff of our statements against Wikidata's.
Takes the facts, provenance and ontology graphs; gives the view, proposals and findings.
"""
