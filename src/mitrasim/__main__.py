from mitrasim.cli import main

main()
