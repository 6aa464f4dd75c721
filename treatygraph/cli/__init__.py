"""The top floor: the `treatygraph` command, one click group whose commands form the pipeline.
Takes the command line and the environment; gives builds, checks, queries, links and the server.
The only place that imports both treatygraph's steps and the web server (`serve`).
"""
