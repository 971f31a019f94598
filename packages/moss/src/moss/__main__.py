from moss.cli import main

main()
