from treatygraph.cli.commands import main

main()
