"""Code shared by every meldespiegel service, in three rooms: `contract` (the event contract),
`law` (the law several services apply) and `platform` (what every service runs on)."""
