"""Event schemas (pydantic), one module per area; topics and schemas meet in
`shared.contract.topics`."""
