from nfk8s.cli import main

main()
