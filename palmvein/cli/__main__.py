from palmvein.cli import main

main()
