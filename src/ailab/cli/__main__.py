from ailab.cli import main

main()
