"""intake: receives access applications and decides whether they are complete."""
