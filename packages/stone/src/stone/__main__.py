from stone.cli import main

main()
