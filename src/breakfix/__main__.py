from breakfix.cli import main

main()
