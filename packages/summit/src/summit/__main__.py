from summit.cli import main

main()
