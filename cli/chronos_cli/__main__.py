from chronos_cli.app import main

main()
