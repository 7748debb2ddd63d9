"""`meldespiegel`: the operators' command line. It publishes commands and reads topics or a
service's API; it never reads a service's tables."""
