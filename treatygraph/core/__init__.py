"""The ground floor: configuration, input errors that name file and line, strict UTF-8 reading,
and dates at the precision the sources give. Takes nothing from the rest of treatygraph.
"""
