"""The forge as a front door: `@honk` on an issue or pull request, review comments, failed CI and pushes,
acted on through TaskService, and Honk's answers posted back where it was asked."""
