"""Code shared by every meldespiegel service: settings, logging, the topic catalogue and event
schemas, the CloudEvents envelope, the broker factory, dead-lettering and the inbox/outbox."""
