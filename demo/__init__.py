"""Demo traffic for the local stack: an upstream system that submits access applications."""
