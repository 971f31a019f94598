from boulder.cli import main

main()
