"""The RDF vocabulary of the project: namespaces (standard and our own, which follow the base
IRI), and reading the Turtle inputs (ontology, shapes) with file and line on error.
Takes core; gives namespaces and rdflib graphs.
"""
