from signin.cli import main

main()
