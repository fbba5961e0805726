from gutbrain.cli import main

main()
