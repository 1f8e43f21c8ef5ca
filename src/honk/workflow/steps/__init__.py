"""The steps of a task's route, as the worker carries them out: each activity hands its input to one
of these and returns what it gives back. They join the stages (workspaces, the sandbox, agents,
checks, builds, forges) through the seams in `honk.protocols`."""
