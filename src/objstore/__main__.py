"""`python -m objstore`: the objstore command line."""

from objstore.cli import main

main()
