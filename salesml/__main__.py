from salesml.cli import main

main()
