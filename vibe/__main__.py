from vibe.cli import main

main()
