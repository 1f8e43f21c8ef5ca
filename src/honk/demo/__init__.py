"""Honk's demo: the bundled fake model (a loopback Messages API that plays scripted turns, as the real
API streams them) and the demo scenario it plays on the sample repo, so `honk up --demo-model` shows
the real Claude Code path with no credentials and no network. The tests drive the same fake model."""
