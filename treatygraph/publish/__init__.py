"""Publishing a build: assemble every input into graphs, validate them, load the store, write
the dumps, and swap the new release in atomically (a failed build leaves the last good one).
Takes a Config; gives a release folder under build/.
"""
