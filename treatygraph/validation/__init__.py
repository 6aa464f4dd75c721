"""SHACL validation: shapes compiled to SPARQL and run on Oxigraph (the build's engine), pyshacl
as its oracle, and the report a person reads. Takes data and shapes graphs; gives a report.
"""
