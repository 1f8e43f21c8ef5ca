"""`python -m honk`: the `honk` command."""

from honk.composition.main import main

main()
