"""Reading SPARQL text without running it: escapes, form, dataset clauses, SERVICE calls and the
shapes some stores need reworded; and making allowlisted SERVICE calls ourselves (federation).
Takes query text; gives its reading, rewritten text and remote solutions.
"""
